using GrpoPipeline.Training.Experiments;
using NUnit.Framework;

namespace GrpoPipeline.Training.Tests.Experiments;

/// <summary>A variant over seeds: means ± population std, and the time to a held-out target, on hand-made runs.</summary>
[TestFixture]
public sealed class ExperimentStatisticsTests
{
    /// <summary>A run of <paramref name="variant"/> with the given held-out points and final reward.</summary>
    internal static ExperimentRun Run(string variant, long seed, double finalReward, params (int Epoch, double Seconds, double Exact)[] points) =>
        new(variant, seed, [1, finalReward], points.Select(p => new HeldOutPoint(p.Epoch, p.Seconds, p.Exact)).ToArray(), finalReward, [0, 0.5]);

    [Test]
    public void Time_To_Target_Counts_Not_Reached_As_Slowest_And_Tracks_The_Lowest_After_Reaching()
    {
        // A reaches 99% at epoch 20 (10 s) and dips to 98% after; B at epoch 40 (30 s); C never.
        var a = Run("v", 0, 1, (10, 5, 0.5), (20, 10, 0.99), (30, 15, 0.98), (40, 20, 1.0));
        var b = Run("v", 1, 1, (10, 5, 0.2), (20, 12, 0.9), (40, 30, 0.995));
        var c = Run("v", 2, 1, (10, 5, 0.1), (40, 30, 0.7));

        Assert.That(a.FirstReaching(0.99)?.Epoch, Is.EqualTo(20));
        Assert.That(a.LowestAfterReaching(0.99), Is.EqualTo(0.98));
        Assert.That(c.FirstReaching(0.99), Is.Null);
        Assert.That(a.HoldingFrom(0.99)?.Epoch, Is.EqualTo(40), "the dip at 30 restarts the hold");
        Assert.That(b.HoldingFrom(0.99)?.Epoch, Is.EqualTo(40));
        Assert.That(c.HoldingFrom(0.99), Is.Null);
        var row = ExperimentStatistics.Summarize([a, b, c], 0.99).Single();
        Assert.That(row.Reached, Is.EqualTo(2));
        Assert.That(row.SecondsToTarget, Is.EqualTo(new double?[] { 10, 30, null }));
        Assert.That(row.MedianSecondsToTarget, Is.EqualTo(30), "the middle of 10, 30 and not-reached");
        Assert.That(row.MedianEpochsToTarget, Is.EqualTo(40));
        Assert.That(row.LowestAfterTarget, Is.EqualTo(0.98));
        Assert.That(row.SecondsToHolding, Is.EqualTo(new double?[] { 20, 30, null }));
        Assert.That(ExperimentStatistics.Summarize([a, c], 0.99).Single().MedianSecondsToTarget, Is.Null, "half the runs never reached it");
        Assert.That(ExperimentStatistics.Summarize([a, b], 0.99).Single().MedianSecondsToTarget, Is.EqualTo(20), "the mean of the middle two");
    }

    [Test]
    public void Means_And_Population_Stds_Are_Per_Variant_In_The_Order_Variants_First_Appear()
    {
        var runs = new[]
        {
            Run("w", 0, 2, (10, 1, 0.25)), Run("v", 0, 5, (10, 1, 1.0)), Run("w", 1, 4, (10, 1, 0.75)),
        };
        var rows = ExperimentStatistics.Summarize(runs, 0.9);

        Assert.That(rows.Select(r => (r.Variant, r.Seeds)), Is.EqualTo(new[] { ("w", 2), ("v", 1) }));
        Assert.That((rows[0].FinalRewardMean, rows[0].FinalRewardStd), Is.EqualTo((3.0, 1.0)), "2 and 4: mean 3, population std 1");
        Assert.That((rows[0].HeldOutExactMean, rows[0].HeldOutExactStd), Is.EqualTo((0.5, 0.25)));
        Assert.That((rows[1].FinalRewardStd, rows[1].Reached, rows[1].LowestAfterTarget), Is.EqualTo((0.0, 1, (double?)1.0)));
        Assert.That((rows[0].Reached, rows[0].LowestAfterTarget), Is.EqualTo((0, (double?)null)));
    }
}
