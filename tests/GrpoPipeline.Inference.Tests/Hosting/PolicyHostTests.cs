using GrpoPipeline.Inference.Hosting;
using GrpoPipeline.Tests;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NUnit.Framework;

namespace GrpoPipeline.Inference.Tests.Hosting;

/// <summary>The lease and swap rules of <see cref="PolicyHost"/>, without a host or HTTP in between.</summary>
[TestFixture]
public sealed class PolicyHostTests
{
    TempDir _dir = null!;
    string _model = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = new TempDir("host");
        _model = ModelFiles.ServedCopy(_dir.Root, Fixtures.Lecture);
    }

    [TearDown]
    public void TearDown() => _dir.Dispose();

    PolicyHost NewHost() =>
        new(Options.Create(new PolicyModelOptions { ModelPath = _model }), NullLogger<PolicyHost>.Instance);

    [Test]
    public void Host_Is_Not_Ready_Until_The_First_Load()
    {
        using var host = NewHost();
        Assert.That(host.IsReady, Is.False);
        Assert.That(host.TryAcquire(out _), Is.False);

        host.LoadInitial();

        Assert.That(host.IsReady, Is.True);
        Assert.That(host.Current!.Generation, Is.EqualTo(1));
    }

    [Test]
    public void A_Swapped_Out_Model_Is_Disposed_Only_After_Its_Last_Lease_Ends()
    {
        using var host = NewHost();
        host.LoadInitial();
        Assert.That(host.TryAcquire(out var inFlight), Is.True);
        var old = inFlight.Model;

        ModelFiles.ReplaceAtomically(_model, Fixtures.SmallUntrained);
        Assert.That(host.TryReload(), Is.True);

        Assert.That(host.Current!.Generation, Is.EqualTo(2));
        Assert.That(host.Current.Policy.PromptLength, Is.EqualTo(4), "the replacement has another shape");
        Assert.That(old.IsDisposed, Is.False, "the old model was disposed under an in-flight request");
        Assert.That(inFlight.Policy.Respond([3, 1, 2]), Has.Length.EqualTo(3), "the in-flight request cannot use its model");

        inFlight.Dispose();

        Assert.That(old.IsDisposed, Is.True, "the old model outlived its last lease");
        Assert.That(host.Current.IsDisposed, Is.False);
    }

    [Test]
    public void A_Bad_Replacement_Is_Rejected_And_The_Current_Model_Stays()
    {
        using var host = NewHost();
        host.LoadInitial();
        var before = host.Current;

        ModelFiles.ReplaceAtomically(_model, ModelFiles.Truncated(_dir.Root, Fixtures.LectureUntrained));

        Assert.That(host.TryReload(), Is.False);
        Assert.That(host.Current, Is.SameAs(before));
        Assert.That(before!.IsDisposed, Is.False);
        Assert.That(host.Rejections, Is.EqualTo(1));
        Assert.That(host.LastRejection!.Reason, Does.Contain(_model).And.Contain("not a loadable ONNX model"));
    }

    [Test]
    public void Dispose_Waits_For_In_Flight_Leases()
    {
        var host = NewHost();
        host.LoadInitial();
        host.TryAcquire(out var inFlight);

        host.Dispose();

        Assert.That(host.IsReady, Is.False);
        Assert.That(inFlight.Model.IsDisposed, Is.False);
        inFlight.Dispose();
        Assert.That(inFlight.Model.IsDisposed, Is.True);
    }

    [Test]
    public async Task Concurrent_Requests_And_Swaps_Never_Touch_A_Disposed_Model()
    {
        using var host = NewHost();
        host.LoadInitial();
        var seen = new System.Collections.Concurrent.ConcurrentDictionary<LoadedModel, byte>();
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource();

        var workers = Enumerable.Range(0, 3).Select(_ => Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                if (!host.TryAcquire(out var lease)) { failures.Enqueue("no model"); continue; }
                using (lease)
                {
                    seen.TryAdd(lease.Model, 0);
                    try { lease.Policy.Respond(new long[lease.Policy.Contract.Prompts.MinLength]); }
                    catch (Exception e) { failures.Enqueue(e.Message); }
                }
            }
        })).ToArray();

        string[] sources = [Fixtures.LectureUntrained, Fixtures.SmallUntrained, Fixtures.Lecture];
        for (int i = 0; i < 9; i++)
        {
            ModelFiles.ReplaceAtomically(_model, sources[i % sources.Length]);
            Assert.That(host.TryReload(), Is.True);
            await Task.Delay(20);
        }
        await stop.CancelAsync();
        await Task.WhenAll(workers);

        Assert.That(failures, Is.Empty);
        Assert.That(host.Current!.Generation, Is.EqualTo(10));
        Assert.That(seen.Keys.Where(m => m != host.Current), Is.All.Matches<LoadedModel>(m => m!.IsDisposed), "a retired model leaked");
    }
}
