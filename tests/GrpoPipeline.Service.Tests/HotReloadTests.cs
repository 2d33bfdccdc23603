using System.Collections.Concurrent;
using System.Net;
using GrpoPipeline.Inference;
using NUnit.Framework;

namespace GrpoPipeline.Service.Tests;

/// <summary>
/// Replacing the model file while requests run: a good file is swapped in with no failed request, a different shape
/// takes effect, and a bad file is rejected while the old model keeps serving.
/// </summary>
[TestFixture, NonParallelizable]
public sealed class HotReloadTests
{
    static readonly TimeSpan SwapTimeout = TimeSpan.FromSeconds(15);

    string _dir = null!;
    string _model = null!;
    PolicyServiceFactory _factory = null!;
    HttpClient _client = null!;

    [SetUp]
    public void StartService()
    {
        _dir = TestModels.NewTempDir("reload");
        _model = TestModels.ServedCopy(_dir, TestModels.Lecture);
        _factory = new PolicyServiceFactory(_model, new Dictionary<string, string>
        {
            ["Policy:ReloadPollMilliseconds"] = "100",
            ["Policy:ReloadDebounceMilliseconds"] = "100",
        });
        _client = _factory.CreateClient();
    }

    [TearDown]
    public void StopService()
    {
        _client.Dispose();
        _factory.Dispose();
        TestModels.DeleteDir(_dir);
    }

    [Test]
    public async Task Swapping_In_A_Model_Under_Load_Fails_No_Request()
    {
        var generations = new ConcurrentDictionary<int, int>();
        var load = Load.Start(_client, workers: 4, EveryEndpoint(model => generations.AddOrUpdate(model.GetProperty("generation").GetInt32(), 1, (_, n) => n + 1)));

        await Task.Delay(500);
        TestModels.ReplaceAtomically(_model, TestModels.LectureB);
        var model = await _client.WaitForModel(m => m.GetProperty("run").GetString() == TestModels.LectureBRun, SwapTimeout);
        await Task.Delay(1000);   // about two seconds of load in all, the swap in the middle
        var result = await load.StopAsync();

        TestContext.Out.WriteLine($"{result.Requests} requests, generations seen: {string.Join(", ", generations.Select(kv => $"{kv.Key}×{kv.Value}"))}");
        Assert.That(result.Failures, Is.Empty, "requests failed during the swap");
        Assert.That(result.Requests, Is.GreaterThan(50), "the load barely ran");
        Assert.That(model.GetProperty("run").GetString(), Is.EqualTo(TestModels.LectureBRun), "the new model was not swapped in");
        Assert.That(model.GetProperty("generation").GetInt32(), Is.EqualTo(2));
        Assert.That(model.GetProperty("reload").GetProperty("reloads").GetInt32(), Is.EqualTo(1));
        Assert.That(generations.Keys, Is.SupersetOf(new[] { 1, 2 }), "requests ran both before and after the swap");

        using var direct = OnnxPolicy.Load(TestModels.LectureB);
        var sorted = await (await _client.PostJson("/v1/sort", new { prompt = new long[] { 3, 1, 2 } })).Json();
        Assert.That(sorted.GetProperty("response").Longs(), Is.EqualTo(direct.Respond([3, 1, 2])), "the new model does not answer");
        Assert.That(_factory.Logs.Contains("swapped in"), Is.True, "the swap was not logged");
    }

    [Test]
    public async Task A_Model_Of_Another_Shape_Takes_Over_And_Old_Shape_Prompts_Get_A_Clear_400()
    {
        int ok = 0, shapeMismatch = 0;
        var load = Load.Start(_client, workers: 3, async (client, i, random) =>
        {
            using var response = await client.PostJson("/v1/sort", new { prompt = Prompt(random, 3, 5) });
            if (response.StatusCode == HttpStatusCode.OK) { Interlocked.Increment(ref ok); return null; }
            string text = await response.Content.ReadAsStringAsync();
            // After the swap a length-3 prompt is a client error against the new model, and must say so.
            if (response.StatusCode == HttpStatusCode.BadRequest && text.Contains("has length 3; this model takes prompts of length 4"))
            {
                Interlocked.Increment(ref shapeMismatch);
                return null;
            }
            return $"POST /v1/sort: {(int)response.StatusCode} {text}";
        });

        await Task.Delay(400);
        TestModels.ReplaceAtomically(_model, TestModels.Random);
        var model = await _client.WaitForModel(m => m.GetProperty("maxPromptLength").GetInt32() == 4, SwapTimeout);
        await Task.Delay(400);
        var result = await load.StopAsync();

        TestContext.Out.WriteLine($"{result.Requests} requests: {ok} answered by the old model, {shapeMismatch} rejected by the new one");
        Assert.That(result.Failures, Is.Empty);
        Assert.That(model.GetProperty("maxPromptLength").GetInt32(), Is.EqualTo(4));
        Assert.That(model.GetProperty("vocabSize").GetInt32(), Is.EqualTo(6));
        Assert.That(model.GetProperty("run").GetString(), Is.EqualTo(TestModels.RandomRun));
        Assert.That(ok, Is.GreaterThan(0));
        Assert.That(shapeMismatch, Is.GreaterThan(0));

        using var direct = OnnxPolicy.Load(TestModels.Random);
        var sorted = await (await _client.PostJson("/v1/sort", new { prompt = new long[] { 5, 0, 3, 1 } })).Json();
        Assert.That(sorted.GetProperty("response").Longs(), Is.EqualTo(direct.Respond([5, 0, 3, 1])));
    }

    [Test]
    public async Task A_Sorter_Swapped_For_A_Decoder_And_Back_Under_Load_Fails_No_Request()
    {
        // The load's prompts are valid for both models, so every request must succeed whichever answers it.
        var kinds = new ConcurrentDictionary<string, int>();
        var load = Load.Start(_client, workers: 4, EveryEndpoint(model => kinds.AddOrUpdate(model.GetProperty("contract").GetProperty("kind").GetString()!, 1, (_, n) => n + 1)));

        await Task.Delay(400);
        TestModels.ReplaceAtomically(_model, TestModels.Decoder);
        var decoder = await _client.WaitForModel(m => m.GetProperty("run").GetString() == TestModels.DecoderRun, SwapTimeout);
        await Task.Delay(600);
        var sorted = await (await _client.PostJson("/v1/sort", new { prompt = new long[] { 7, 1, 6, 0, 2 } })).Json();
        TestModels.ReplaceAtomically(_model, TestModels.Lecture);
        var sorter = await _client.WaitForModel(m => m.GetProperty("generation").GetInt32() == 3, SwapTimeout);
        await Task.Delay(400);
        var result = await load.StopAsync();

        TestContext.Out.WriteLine($"{result.Requests} requests, contract kinds seen: {string.Join(", ", kinds.Select(kv => $"{kv.Key}×{kv.Value}"))}");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(result.Failures, Is.Empty, "requests failed during the swaps");
            Assert.That(result.Requests, Is.GreaterThan(50), "the load barely ran");
            Assert.That(decoder.GetProperty("contract").GetProperty("kind").GetString(), Is.EqualTo("decoder"));
            Assert.That(sorted.GetProperty("response").Longs(), Has.Length.InRange(1, 7), "a length-5 prompt, valid only for the decoder, was answered");
            Assert.That(sorter.GetProperty("contract").GetProperty("kind").GetString(), Is.EqualTo("factorised"));
            Assert.That(sorter.GetProperty("run").GetString(), Is.EqualTo(TestModels.LectureRun));
            Assert.That(kinds.Keys, Is.EquivalentTo(new[] { "factorised", "decoder" }), "requests ran against both kinds");
        }
    }

    [Test]
    public async Task A_Corrupt_Replacement_Is_Rejected_And_The_Old_Model_Keeps_Serving()
    {
        var load = Load.Start(_client, workers: 3, async (client, i, random) =>
            await Expect200(client.PostJson("/v1/sort", new { prompt = Prompt(random, 3, 5) })));

        await Task.Delay(400);
        TestModels.ReplaceAtomically(_model, TestModels.Truncated);
        var model = await _client.WaitForModel(m => m.GetProperty("reload").GetProperty("rejections").GetInt32() >= 1, SwapTimeout);
        await Task.Delay(400);
        var result = await load.StopAsync();

        var reload = model.GetProperty("reload");
        TestContext.Out.WriteLine($"{result.Requests} requests; rejection: {reload.GetProperty("lastRejection")}");
        Assert.That(result.Failures, Is.Empty, "requests failed while a bad file was rejected");
        Assert.That(result.Requests, Is.GreaterThan(20));
        Assert.That(reload.GetProperty("rejections").GetInt32(), Is.EqualTo(1), "the bad file was not rejected (or was retried)");
        Assert.That(reload.GetProperty("lastRejection").GetString(), Does.Contain("not a loadable ONNX model"));
        Assert.That(model.GetProperty("generation").GetInt32(), Is.EqualTo(1), "the old model must keep serving");
        Assert.That(model.GetProperty("run").GetString(), Is.EqualTo(TestModels.LectureRun));
        Assert.That(_factory.Logs.Contains("Rejected the replacement model"), Is.True, "the rejection was not logged");

        // A good file afterwards is picked up: a rejection does not stop the watcher.
        TestModels.ReplaceAtomically(_model, TestModels.LectureB);
        model = await _client.WaitForModel(m => m.GetProperty("generation").GetInt32() == 2, SwapTimeout);
        Assert.That(model.GetProperty("run").GetString(), Is.EqualTo(TestModels.LectureBRun));
    }

    [Test]
    public async Task Deleting_The_Model_File_Keeps_The_Loaded_Model_Serving()
    {
        File.Delete(_model);
        await Task.Delay(600);

        using var response = await _client.PostJson("/v1/sort", new { prompt = new long[] { 3, 1, 2 } });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var model = await _client.Model();
        Assert.That(model.GetProperty("generation").GetInt32(), Is.EqualTo(1));
        Assert.That(model.GetProperty("reload").GetProperty("rejections").GetInt32(), Is.EqualTo(0), "a missing file is not a rejected file");

        TestModels.ReplaceAtomically(_model, TestModels.LectureB);
        model = await _client.WaitForModel(m => m.GetProperty("generation").GetInt32() == 2, SwapTimeout);
        Assert.That(model.GetProperty("run").GetString(), Is.EqualTo(TestModels.LectureBRun), "a file put back is loaded");
    }

    static long[] Prompt(Random random, int length, int vocab) =>
        Enumerable.Range(0, length).Select(_ => (long)random.Next(vocab)).ToArray();

    static async Task<string?> Expect200(Task<HttpResponseMessage> request)
    {
        using var response = await request;
        if (response.StatusCode == HttpStatusCode.OK)
        {
            await response.Content.ReadAsByteArrayAsync();
            return null;
        }
        return $"{response.RequestMessage?.RequestUri?.AbsolutePath}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
    }

    /// <summary>
    /// A load step that cycles through the endpoints with length-3 prompts over 0..4 (valid for the lecture models and
    /// the decoder), each expected to answer 200; every fourth request reads <c>GET /v1/model</c> into
    /// <paramref name="onModel"/>.
    /// </summary>
    static Func<HttpClient, int, Random, Task<string?>> EveryEndpoint(Action<System.Text.Json.JsonElement> onModel) => async (client, i, random) =>
    {
        switch (i % 4)
        {
            case 0:
                return await Expect200(client.PostJson("/v1/sort", new { prompt = Prompt(random, 3, 5) }));
            case 1:
                return await Expect200(client.PostJson("/v1/sort/batch", new { prompts = Enumerable.Range(0, 8).Select(_ => Prompt(random, 3, 5)) }));
            case 2:
                return await Expect200(client.PostJson("/v1/sample", new { prompt = Prompt(random, 3, 5), n = 4, seed = i }));
            default:
                using (var response = await client.GetAsync("/v1/model"))
                {
                    if (response.StatusCode != HttpStatusCode.OK) return $"GET /v1/model: {(int)response.StatusCode}";
                    onModel(await response.Json());
                    return null;
                }
        }
    };

    /// <summary>Worker loops that send requests until stopped; a step returns null or a description of a failure.</summary>
    sealed class Load
    {
        readonly CancellationTokenSource _stop = new();
        readonly ConcurrentQueue<string> _failures = new();
        readonly Task[] _workers;
        int _requests;

        Load(HttpClient client, int workers, Func<HttpClient, int, Random, Task<string?>> step)
        {
            _workers = Enumerable.Range(0, workers).Select(w => Task.Run(async () =>
            {
                var random = new Random(w);
                for (int i = w; !_stop.IsCancellationRequested; i++)
                {
                    try
                    {
                        if (await step(client, i, random) is { } failure) _failures.Enqueue(failure);
                    }
                    catch (Exception e) { _failures.Enqueue($"{e.GetType().Name}: {e.Message}"); }
                    Interlocked.Increment(ref _requests);
                }
            })).ToArray();
        }

        public static Load Start(HttpClient client, int workers, Func<HttpClient, int, Random, Task<string?>> step) => new(client, workers, step);

        public async Task<(int Requests, string[] Failures)> StopAsync()
        {
            await _stop.CancelAsync();
            await Task.WhenAll(_workers);
            _stop.Dispose();
            return (_requests, _failures.Take(20).ToArray());
        }
    }
}
