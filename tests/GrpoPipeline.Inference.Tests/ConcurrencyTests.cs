using NUnit.Framework;

namespace GrpoPipeline.Inference.Tests;

/// <summary>One <see cref="OnnxPolicy"/> shared by many threads gives exactly the sequential results.</summary>
[TestFixture]
public sealed class ConcurrencyTests
{
    const int Threads = 8, CallsPerThread = 1000;

    OnnxPolicy _policy = null!;   // the random-task model: L=6, V=12

    [OneTimeSetUp]
    public void Load() => _policy = OnnxPolicy.Load(TestModels.Random);

    [OneTimeTearDown]
    public void Dispose() => _policy.Dispose();

    /// <summary>Runs <paramref name="work"/> on <see cref="Threads"/> threads released together; rethrows the first failure.</summary>
    static void RunTogether(Action<int> work)
    {
        using var start = new Barrier(Threads);
        var errors = new Exception?[Threads];
        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            try { start.SignalAndWait(); work(t); }
            catch (Exception e) { errors[t] = e; }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.That(errors, Is.All.Null, "no thread threw");
    }

    static int Index(int thread, int call, int count) => (thread * CallsPerThread + call * 7) % count;

    [Test]
    public void Concurrent_Sort_Calls_Equal_Sequential_Ones()
    {
        var prompts = TestModels.RandomPrompts(Threads * CallsPerThread, 6, 12, seed: 31);
        var expected = prompts.Select(p => _policy.Respond(p)).ToArray();
        Assert.That(expected.Select(r => string.Join(',', r)).Distinct().Count(), Is.GreaterThan(100),
            "responses differ between prompts, so a mixed-up result would show");

        // Each thread walks the whole set from its own offset, so different prompts are in flight at once.
        var perThread = new long[Threads][][];
        RunTogether(t =>
        {
            perThread[t] = new long[CallsPerThread][];
            for (int i = 0; i < CallsPerThread; i++) perThread[t][i] = _policy.Respond(prompts[Index(t, i, prompts.Length)]);
        });

        using (Assert.EnterMultipleScope())
            for (int t = 0; t < Threads; t++)
            {
                var sequential = Enumerable.Range(0, CallsPerThread).Select(i => expected[Index(t, i, prompts.Length)]).ToArray();
                Assert.That(perThread[t], Is.EqualTo(sequential), $"Sort on thread {t}");
            }
    }

    [Test]
    public void Concurrent_SortBatch_And_LogitsBatch_Calls_Equal_Sequential_Ones()
    {
        const int batches = 16, batchSize = 64;
        var prompts = Enumerable.Range(0, batches)
            .Select(b => TestModels.RandomPrompts(batchSize, 6, 12, seed: 40 + (ulong)b)).ToArray();
        var expectedSorted = prompts.Select(_policy.RespondBatch).ToArray();
        var expectedLogits = prompts.Select(_policy.LogitsBatch).ToArray();

        var sorted = new long[Threads][][][];
        var logits = new float[Threads][][];
        RunTogether(t =>
        {
            sorted[t] = new long[batches][][];
            logits[t] = new float[batches][];
            for (int k = 0; k < batches; k++)
            {
                int b = (k + t) % batches;
                sorted[t][b] = _policy.RespondBatch(prompts[b]);
                logits[t][b] = _policy.LogitsBatch(prompts[b]);
            }
        });

        using (Assert.EnterMultipleScope())
            for (int t = 0; t < Threads; t++)
            {
                Assert.That(sorted[t], Is.EqualTo(expectedSorted), $"RespondBatch on thread {t}");
                Assert.That(logits[t], Is.EqualTo(expectedLogits), $"LogitsBatch on thread {t} (bit-identical)");
            }
    }
}
