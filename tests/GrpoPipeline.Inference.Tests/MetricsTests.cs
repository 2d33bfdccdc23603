using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using GrpoPipeline.Inference.Hosting;
using GrpoPipeline.Tests;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NUnit.Framework;

namespace GrpoPipeline.Inference.Tests;

/// <summary>Policies and the hot-reload host record on the one <c>GrpoPipeline</c> meter.</summary>
[TestFixture, NonParallelizable]   // the meter is process-wide; other tests' inferences would add to the sums
public sealed class MetricsTests
{
    [Test]
    public void Each_Inference_Call_Records_Its_Duration_Prompts_And_Batch_Size()
    {
        using var policy = OnnxPolicy.Load(Fixtures.Random);
        using var recorder = new MetricRecorder();

        policy.Respond(new long[6]);
        policy.RespondBatch(Fixtures.RandomPrompts(5, 6, 12, seed: 1));
        policy.Sample(new long[6], 3);

        Assert.That(recorder.Values("grpo.inference.duration"), Has.Length.EqualTo(3).And.All.GreaterThan(0.0).And.All.LessThan(5.0));
        Assert.That(recorder.Values("grpo.inference.prompts"), Is.EqualTo(new double[] { 1, 5, 1 }));
        Assert.That(recorder.Values("grpo.inference.batch_size"), Is.EqualTo(new double[] { 1, 5, 1 }));
    }

    [Test]
    public void Reloads_Rejections_And_The_Generation_Are_Recorded()
    {
        using var dir = new TempDir("metrics");
        var model = ModelFiles.ServedCopy(dir.Root, Fixtures.Lecture);
        using var host = new PolicyHost(Options.Create(new PolicyModelOptions { ModelPath = model }), NullLogger<PolicyHost>.Instance);
        using var recorder = new MetricRecorder();
        host.LoadInitial();

        ModelFiles.ReplaceAtomically(model, Fixtures.LectureUntrained);
        Assert.That(host.TryReload(), Is.True);
        ModelFiles.ReplaceAtomically(model, ModelFiles.Truncated(dir.Root, Fixtures.Lecture));
        Assert.That(host.TryReload(), Is.False);
        recorder.Observe();

        Assert.That(recorder.Values("grpo.model.reloads"), Is.EqualTo(new double[] { 1 }));
        Assert.That(recorder.Values("grpo.model.reloads.rejected"), Is.EqualTo(new double[] { 1 }));
        var generation = recorder.Measurements.Where(m => m.Instrument == "grpo.model.generation"
            && m.Tags.Any(t => t.Key == "grpo.model.path" && (string?)t.Value == host.ModelPath)).Select(m => m.Value);
        Assert.That(generation, Is.EqualTo(new double[] { 2 }));
    }
}
