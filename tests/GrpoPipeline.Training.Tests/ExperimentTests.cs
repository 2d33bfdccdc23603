using NUnit.Framework;

namespace GrpoPipeline.Training.Tests;

/// <summary>The experiment runner: one run per variant and seed, rows per variant, and the time to a held-out target.</summary>
[TestFixture, NonParallelizable]
public sealed class ExperimentTests
{
    [Test]
    public void The_Deltas_Experiment_Produces_One_Row_Per_Mode_Over_All_Seeds()
    {
        var config = new TrainConfig { Epochs = 20, Task = new() { HeldOutSize = 16 }, Run = new RunOptions { HeldOutEvery = 5, Threads = 1 } };
        var runs = Experiment.Run(config, Experiment.DeltasModes, seeds: 2);
        var rows = Experiment.Summarize(runs, target: 0.99);

        Assert.That(runs, Has.Count.EqualTo(8));
        Assert.That(runs.Select(r => r.RewardCurve.Length), Is.All.EqualTo(20));
        Assert.That(runs.Select(r => r.HeldOut.Select(p => p.Epoch)), Is.All.EqualTo(new[] { 5, 10, 15, 20 }));
        Assert.That(runs.SelectMany(r => r.HeldOut).Select(p => p.TrainingSeconds), Is.All.GreaterThan(0.0));
        Assert.That(rows.Select(r => r.Variant), Is.EqualTo(new[] { "rewards", "centered", "normalized", "max" }));
        Assert.That(rows.Select(r => r.Seeds), Is.All.EqualTo(2));
        var centered = runs.Where(r => r.Variant == "centered").ToList();
        Assert.That(rows[1].FinalRewardMean, Is.EqualTo(centered.Average(r => r.FinalReward)).Within(1e-12));
        var table = Experiment.ToMarkdown(rows, config, 0.99, "deltas");
        Assert.That(table.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(2 + 4));
        Assert.That(table, Does.Contain("| normalized |").And.Contain("| max |").And.Contain("not reached"));
    }

    [Test]
    public void Seeds_Of_A_Variant_Differ()
    {
        var runs = Experiment.Run(new TrainConfig { Epochs = 5, Task = new() { HeldOutSize = 0 } }, [Experiment.DeltasModes[1]], seeds: 2);
        Assert.That(runs[0].Seed, Is.Not.EqualTo(runs[1].Seed));
        Assert.That(runs[0].RewardCurve, Is.Not.EqualTo(runs[1].RewardCurve));
    }

    [Test]
    public void Time_To_Target_Counts_Not_Reached_As_Slowest_And_Tracks_The_Lowest_After_Reaching()
    {
        // Hand-made runs: A reaches 99% at epoch 20 (10 s) and dips to 98% after; B at epoch 40 (30 s); C never.
        static ExperimentRun Run(long seed, params (int Epoch, double Seconds, double Exact)[] points) =>
            new("v", seed, [1], points.Select(p => new HeldOutPoint(p.Epoch, p.Seconds, p.Exact)).ToArray(), 1);
        var a = Run(0, (10, 5, 0.5), (20, 10, 0.99), (30, 15, 0.98), (40, 20, 1.0));
        var b = Run(1, (10, 5, 0.2), (20, 12, 0.9), (40, 30, 0.995));
        var c = Run(2, (10, 5, 0.1), (40, 30, 0.7));

        Assert.That(a.FirstReaching(0.99)?.Epoch, Is.EqualTo(20));
        Assert.That(a.LowestAfterReaching(0.99), Is.EqualTo(0.98));
        Assert.That(c.FirstReaching(0.99), Is.Null);
        var row = Experiment.Summarize([a, b, c], 0.99).Single();
        Assert.That(row.Reached, Is.EqualTo(2));
        Assert.That(row.SecondsToTarget, Is.EqualTo(new double?[] { 10, 30, null }));
        Assert.That(row.MedianSecondsToTarget, Is.EqualTo(30), "the middle of 10, 30 and not-reached");
        Assert.That(row.MedianEpochsToTarget, Is.EqualTo(40));
        Assert.That(row.LowestAfterTarget, Is.EqualTo(0.98));
        Assert.That(Experiment.Summarize([a, c], 0.99).Single().MedianSecondsToTarget, Is.Null, "half the runs never reached it");
    }
}
