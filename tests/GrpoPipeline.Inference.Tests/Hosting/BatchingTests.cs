using GrpoPipeline.Inference.Hosting;
using GrpoPipeline.Tests;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NUnit.Framework;

namespace GrpoPipeline.Inference.Tests.Hosting;

/// <summary>
/// A <see cref="PolicyHost"/> gathers concurrent greedy requests into batched inferences: each answer is the one the
/// model gives the prompt alone, the queue is bounded, a cancelled request leaves it, a reload is seen between batches
/// and shutdown answers what is queued.
/// </summary>
[TestFixture, NonParallelizable]   // reads the process-wide meter
public sealed class BatchingTests
{
    TempDir _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TempDir("batching");

    [TearDown]
    public void TearDown() => _dir.Dispose();

    PolicyHost Host(string fixture, Action<BatchingOptions>? batching = null)
    {
        var options = new PolicyModelOptions { ModelPath = ModelFiles.ServedCopy(_dir.Root, fixture) };
        batching?.Invoke(options.Batching);
        var host = new PolicyHost(Options.Create(options), NullLogger<PolicyHost>.Instance);
        host.LoadInitial();
        return host;
    }

    /// <summary>Prompts of every length the decoder fixture takes (1..6, V=8), <paramref name="perLength"/> of each, interleaved.</summary>
    static long[][] MixedDecoderPrompts(int perLength) =>
        Enumerable.Range(0, perLength)
            .SelectMany(i => Enumerable.Range(1, 6).Select(length => Fixtures.RandomPrompts(1, length, 8, seed: (ulong)(100 * length + i))[0]))
            .ToArray();

    [Test]
    public async Task Concurrent_Requests_Of_Mixed_Lengths_Share_Batches_And_Get_Their_Unbatched_Answers()
    {
        var prompts = MixedDecoderPrompts(40);
        using var direct = OnnxPolicy.Load(Fixtures.Decoder);
        var expected = prompts.Select(p => direct.Respond(p)).ToArray();
        Assert.That(expected.Select(r => r.Length).Distinct().Count(), Is.GreaterThan(3), "premise: responses of several lengths");
        // A 20 ms wait gathers what arrives together, so batching is certain here; the default waits for nothing.
        using var host = Host(Fixtures.Decoder, b => b.MaxWaitMicroseconds = 20_000);
        using var recorder = new MetricRecorder();

        var answers = await Task.WhenAll(prompts.Select(p => Task.Run(() => host.RespondAsync(p))));

        for (int i = 0; i < prompts.Length; i++)
            Assert.That(answers[i].Response, Is.EqualTo(expected[i]), $"prompt {i} [{string.Join(",", prompts[i])}]");
        var batches = recorder.Values("grpo.inference.batch_size");
        Assert.That(batches.Sum(), Is.EqualTo(prompts.Length), "every prompt answered in exactly one inference");
        Assert.That(batches.Max(), Is.GreaterThan(1), "concurrent requests were batched");
        Assert.That(batches, Has.Length.LessThan(prompts.Length / 2));
        Assert.That(recorder.Values("grpo.batching.queue_time"), Has.Length.EqualTo(prompts.Length).And.All.GreaterThanOrEqualTo(0.0));
        Assert.That(answers.Select(a => a.Generation).Distinct(), Is.EqualTo(new[] { 1 }));
    }

    [Test]
    public void A_Lone_Request_Is_Answered_On_Its_Callers_Thread_Without_Queueing()
    {
        using var host = Host(Fixtures.Decoder);
        using var direct = OnnxPolicy.Load(Fixtures.Decoder);
        using var recorder = new MetricRecorder();

        var answer = host.RespondAsync(new long[] { 5, 2, 7 });

        Assert.That(answer.IsCompletedSuccessfully, Is.True, "answered before RespondAsync returned");
        Assert.That(answer.Result.Response, Is.EqualTo(direct.Respond([5, 2, 7])));
        Assert.That(recorder.Values("grpo.batching.queue_time"), Has.Length.EqualTo(1), "counted as a request with no wait");
    }

    [Test]
    public async Task After_A_Batch_Of_Several_A_Lone_Request_Goes_To_The_Worker_And_The_Next_Is_Answered_Inline_Again()
    {
        using var host = Host(Fixtures.Decoder);
        using var recorder = new MetricRecorder();
        var prompts = MixedDecoderPrompts(20);
        (double Size, string? Thread) LastInference() =>
            recorder.Measurements.Last(m => m.Instrument == "grpo.inference.batch_size") is var m ? (m.Value, m.Thread) : default;

        // Concurrent requests until one burst ends with a batch of several (a burst's last batch may hold a straggler alone).
        for (int burst = 0; burst < 20 && (burst == 0 || LastInference().Size <= 1); burst++)
            await Task.WhenAll(prompts.Select(p => Task.Run(() => host.RespondAsync(p))));
        Assert.That(LastInference().Size, Is.GreaterThan(1), "premise: the last batch held several requests");

        // Concurrent load was seen: a request that finds the queue empty still goes to the worker, so that others can join it.
        var queued = await host.RespondAsync(new long[] { 5, 2, 7 });
        Assert.That(LastInference(), Is.EqualTo((1.0, "grpo-batcher-0")), "answered alone, by the worker");
        // That batch held one request: the next lone request is answered on its caller's thread.
        var inline = host.RespondAsync(new long[] { 6, 1 });
        Assert.That(inline.IsCompletedSuccessfully, Is.True, "answered before RespondAsync returned");
        Assert.That(LastInference(), Is.EqualTo((1.0, Thread.CurrentThread.Name)));
        using var direct = OnnxPolicy.Load(Fixtures.Decoder);
        Assert.That(queued.Response, Is.EqualTo(direct.Respond([5, 2, 7])));
        Assert.That(inline.Result.Response, Is.EqualTo(direct.Respond([6, 1])));
    }

    [Test]
    public void The_Readme_States_Every_Batching_Setting_With_Its_Default()
    {
        var readme = File.ReadAllLines(Path.Combine(TestContext.CurrentContext.TestDirectory, "docs", "Inference.README.md"));
        // Rows of the table under the `Policy:Batching:…` header: | `Name` | default | meaning |
        var rows = readme.SkipWhile(l => !l.StartsWith("| `Policy:Batching:", StringComparison.Ordinal)).Skip(2)
            .TakeWhile(l => l.StartsWith("| `", StringComparison.Ordinal))
            .Select(l => l.Split('|', StringSplitOptions.TrimEntries))
            .ToDictionary(cells => cells[1].Trim('`'), cells => cells[2]);
        var defaults = new BatchingOptions();
        var settings = typeof(BatchingOptions).GetProperties().Where(p => p.CanWrite).ToList();
        Assert.That(settings, Has.Count.GreaterThanOrEqualTo(5), "premise: the settings were found");

        Assert.That(rows.Keys, Is.EquivalentTo(settings.Select(p => p.Name)), "one row per setting");
        foreach (var setting in settings)
            Assert.That(rows[setting.Name], Is.EqualTo(Convert.ToString(setting.GetValue(defaults), System.Globalization.CultureInfo.InvariantCulture)!.ToLowerInvariant()),
                $"{setting.Name}'s default");
    }

    [Test]
    public async Task A_Factorised_Policy_Batches_Too()
    {
        var prompts = Fixtures.RandomPrompts(64, 6, 12, seed: 5);
        using var direct = OnnxPolicy.Load(Fixtures.Random);
        using var host = Host(Fixtures.Random, b => b.MaxWaitMicroseconds = 20_000);
        using var recorder = new MetricRecorder();

        var answers = await Task.WhenAll(prompts.Select(p => Task.Run(() => host.RespondAsync(p))));

        Assert.That(answers.Select(a => a.Response), Is.EqualTo(prompts.Select(p => direct.Respond(p))));
        Assert.That(recorder.Values("grpo.inference.batch_size").Max(), Is.GreaterThan(1));
    }

    [Test]
    public async Task A_Request_Beyond_The_Queue_Bound_Is_Refused_At_Once_With_When_To_Retry()
    {
        // The worker waits up to 2 s for a batch of 64 to fill, so the first two requests stay queued.
        using var host = Host(Fixtures.Decoder, b => { b.MaxQueueLength = 2; b.MaxWaitMicroseconds = 2_000_000; });
        var first = host.RespondAsync(new long[] { 3, 1 });
        var second = host.RespondAsync(new long[] { 2 });
        Assert.That(host.QueueLength, Is.EqualTo(2));

        var refusal = host.RespondAsync(new long[] { 1, 2, 3 });
        Assert.That(refusal.IsFaulted, Is.True, "refused at once, not queued");
        var refused = await Assert.ThrowsAsync<PolicyOverloadedException>(() => refusal);

        Assert.That(refused!.QueueLength, Is.EqualTo(2));
        Assert.That(refused.RetryAfter, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(1)));
        Assert.That(first.IsCompleted || second.IsCompleted, Is.False, "the queued requests are still waiting");
        Assert.That(first.Wait(TimeSpan.FromSeconds(10)) && second.Wait(TimeSpan.FromSeconds(10)), Is.True, "the queued requests are answered");
    }

    [Test]
    public void A_Cancelled_Request_Leaves_The_Queue_At_Once()
    {
        using var host = Host(Fixtures.Decoder, b => { b.MaxQueueLength = 1; b.MaxWaitMicroseconds = 2_000_000; });
        using var cancel = new CancellationTokenSource();
        var queued = host.RespondAsync(new long[] { 3, 1 }, cancel.Token);
        Assert.That(host.QueueLength, Is.EqualTo(1));

        cancel.Cancel();

        Assert.That(host.QueueLength, Is.EqualTo(0), "its slot is free");
        Assert.That(queued.IsCanceled, Is.True);
        // The freed slot takes a new request, which the worker answers after its wait.
        Assert.That(host.RespondAsync(new long[] { 2, 1 }).Wait(TimeSpan.FromSeconds(10)), Is.True);
    }

    [Test]
    public async Task Shutdown_Answers_The_Requests_Already_Queued()
    {
        var host = Host(Fixtures.Decoder, b => b.MaxWaitMicroseconds = 1_000_000);
        using var direct = OnnxPolicy.Load(Fixtures.Decoder);
        var queued = new[] { new long[] { 5, 4, 3 }, [1], [7, 0, 7, 0] }.Select(p => (Prompt: p, Answer: host.RespondAsync(p))).ToArray();

        host.Dispose();

        foreach (var (prompt, answer) in queued)
        {
            Assert.That(answer.IsCompletedSuccessfully, Is.True, "answered before Dispose returned");
            Assert.That(answer.Result.Response, Is.EqualTo(direct.Respond(prompt)));
        }
        await Assert.ThrowsAsync<InvalidOperationException>(() => host.RespondAsync(new long[] { 1 }), "a stopped host takes no more requests");
    }

    [Test]
    public async Task Reloads_Under_Load_Fail_No_Request_And_Each_Answer_Comes_From_The_Model_That_Says_It_Gave_It()
    {
        // Two models of one shape that answer differently: each answer must be its generation's model's answer.
        using var a = OnnxPolicy.Load(Fixtures.Lecture);
        using var b = OnnxPolicy.Load(Fixtures.LectureUntrained);
        long[][] prompts = [[3, 1, 2], [4, 0, 0], [1, 2, 3], [2, 4, 1], [0, 3, 3], [4, 3, 2]];
        Assert.That(prompts.Select(p => a.Respond(p)), Is.Not.EqualTo(prompts.Select(p => b.Respond(p))), "premise: the models disagree");
        using var host = Host(Fixtures.Lecture);
        var modelPath = host.ModelPath;
        var models = new[] { Fixtures.Lecture, Fixtures.LectureUntrained };
        using var stop = new CancellationTokenSource();

        var clients = Enumerable.Range(0, 8).Select(c => Task.Run(async () =>
        {
            var seen = new List<(long[] Prompt, HostedResponse Answer)>();
            for (int i = c; !stop.IsCancellationRequested; i++)
                seen.Add((prompts[i % prompts.Length], await host.RespondAsync(prompts[i % prompts.Length])));
            return seen;
        })).ToArray();
        var generations = new List<LoadedModel>();
        for (int reload = 1; reload <= 6; reload++)
        {
            await Task.Delay(60);
            generations.Add(host.Current!);
            ModelFiles.ReplaceAtomically(modelPath, models[reload % 2]);
            Assert.That(host.TryReload(), Is.True);
        }
        await Task.Delay(60);
        stop.Cancel();
        var answers = (await Task.WhenAll(clients)).SelectMany(s => s).ToArray();

        Assert.That(answers.Select(x => x.Answer.Generation).Distinct().Count(), Is.GreaterThan(3), "premise: answers from several generations");
        foreach (var (prompt, answer) in answers)
        {
            var model = answer.Generation % 2 == 1 ? a : b;   // generation 1 is the lecture model, then they alternate
            Assert.That(answer.Response, Is.EqualTo(model.Respond(prompt)), $"generation {answer.Generation}, prompt [{string.Join(",", prompt)}]");
        }
        Assert.That(generations.All(g => g.IsDisposed), Is.True, "every swapped-out model was released after its last batch");
    }

    [Test]
    public void With_Batching_Off_Each_Request_Is_Answered_Alone_On_Its_Callers_Thread()
    {
        using var host = Host(Fixtures.Decoder, b => b.Enabled = false);
        using var recorder = new MetricRecorder();

        var answers = Enumerable.Range(0, 8).AsParallel().Select(i => host.RespondAsync(new long[] { i % 8, 1 })).ToArray();

        Assert.That(answers.All(t => t.IsCompletedSuccessfully), Is.True, "answered before RespondAsync returned");
        Assert.That(recorder.Values("grpo.inference.batch_size"), Is.EqualTo(Enumerable.Repeat(1.0, 8)));
        Assert.That(recorder.Values("grpo.batching.queue_time"), Is.Empty);
    }

    [Test]
    public void The_Queue_Length_Is_Observed_Per_Host()
    {
        using var host = Host(Fixtures.Decoder, b => b.MaxWaitMicroseconds = 2_000_000);
        using var recorder = new MetricRecorder();
        var queued = host.RespondAsync(new long[] { 3, 1 });

        recorder.Observe();

        var gauge = recorder.Measurements.Where(m => m.Instrument == "grpo.batching.queue_length"
            && m.Tags.Any(t => t.Key == "grpo.model.path" && (string?)t.Value == host.ModelPath)).ToArray();
        Assert.That(gauge.Select(m => m.Value), Is.EqualTo(new[] { 1.0 }));
        Assert.That(queued.Wait(TimeSpan.FromSeconds(10)), Is.True);
    }

    [TestCase(nameof(BatchingOptions.MaxBatchSize), 0)]
    [TestCase(nameof(BatchingOptions.MaxWaitMicroseconds), -1)]
    [TestCase(nameof(BatchingOptions.MaxQueueLength), 0)]
    [TestCase(nameof(BatchingOptions.Workers), 0)]
    public void A_Bad_Setting_Is_Refused_With_Its_Key(string property, int value)
    {
        var options = new BatchingOptions();
        typeof(BatchingOptions).GetProperty(property)!.SetValue(options, value);

        var error = Assert.Throws<GrpoPipeline.Core.ConfigException>(options.Validate);

        Assert.That(error!.Key, Is.EqualTo($"Policy:Batching:{property}"));
        Assert.That(error.Message, Does.Contain(value.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }
}
