namespace GrpoPipeline.Training.Experiments;

/// <summary>A variant aggregated over seeds: means ± (population) std, and the time to a held-out target.</summary>
/// <param name="Variant">The variant's label.</param>
/// <param name="Seeds">Runs aggregated.</param>
/// <param name="FinalRewardMean">Mean of the runs' final rewards.</param>
/// <param name="FinalRewardStd">Their std.</param>
/// <param name="HeldOutExactMean">Mean of the final held-out exact match.</param>
/// <param name="HeldOutExactStd">Its std.</param>
/// <param name="Reached">Runs whose held-out exact match reached the target.</param>
/// <param name="SecondsToTarget">Training seconds to the target, per run (null: not reached), in seed order.</param>
/// <param name="EpochsToTarget">Epochs to the target, per run (null: not reached).</param>
/// <param name="LowestAfterTarget">The lowest held-out exact match after reaching the target, over the runs that did.</param>
/// <param name="SecondsToHolding">Training seconds to the evaluation from which the run stays at or above the target to the end, per run (null: it does not).</param>
public sealed record VariantSummary(string Variant, int Seeds, double FinalRewardMean, double FinalRewardStd, double HeldOutExactMean, double HeldOutExactStd,
    int Reached, double?[] SecondsToTarget, int?[] EpochsToTarget, double? LowestAfterTarget, double?[] SecondsToHolding)
{
    // The experiment's JSON report serializes these in declaration order: keep it.

    /// <summary>The median training seconds to holding the target to the end, as <see cref="MedianSecondsToTarget"/>.</summary>
    public double? MedianSecondsToHolding => ExperimentStatistics.Median(SecondsToHolding);

    /// <summary>
    /// The median training seconds to the target, counting "not reached" as longer than any time; null when half or
    /// more of the runs did not reach it.
    /// </summary>
    public double? MedianSecondsToTarget => ExperimentStatistics.Median(SecondsToTarget);

    /// <summary>The median epochs to the target, as <see cref="MedianSecondsToTarget"/>.</summary>
    public double? MedianEpochsToTarget => ExperimentStatistics.Median(EpochsToTarget.Select(e => (double?)e).ToArray());
}

/// <summary>What an experiment's runs come to, variant by variant.</summary>
public static class ExperimentStatistics
{
    /// <summary>
    /// One summary per variant, in the order the variants first appear in <paramref name="runs"/>; the times to
    /// <paramref name="target"/> held-out exact.
    /// </summary>
    public static IReadOnlyList<VariantSummary> Summarize(IEnumerable<ExperimentRun> runs, double target) =>
        runs.GroupBy(r => r.Variant).Select(g =>
        {
            var list = g.ToList();
            var reached = list.Select(r => r.FirstReaching(target)).ToList();
            var lowest = list.Select(r => r.LowestAfterReaching(target)).Where(v => v is not null).Select(v => v!.Value).ToList();
            return new VariantSummary(g.Key, list.Count,
                list.Average(r => r.FinalReward), Std(list.Select(r => r.FinalReward)),
                list.Average(r => r.FinalHeldOutExact), Std(list.Select(r => r.FinalHeldOutExact)),
                reached.Count(p => p is not null),
                reached.Select(p => p?.TrainingSeconds).ToArray(),
                reached.Select(p => p?.Epoch).ToArray(),
                lowest.Count == 0 ? null : lowest.Min(),
                list.Select(r => r.HoldingFrom(target)?.TrainingSeconds).ToArray());
        }).ToList();

    /// <summary>The population standard deviation.</summary>
    static double Std(IEnumerable<double> values)
    {
        var v = values.ToArray();
        double mean = v.Average();
        return Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / v.Length);
    }

    /// <summary>The median, a null (a run that never got there) counting as longer than any value; null if the middle is one.</summary>
    internal static double? Median(double?[] values)
    {
        var sorted = values.OrderBy(v => v ?? double.PositiveInfinity).ToArray();
        if (sorted.Length % 2 == 1) return sorted[sorted.Length / 2];
        return sorted[sorted.Length / 2 - 1] is { } a && sorted[sorted.Length / 2] is { } b ? (a + b) / 2 : null;
    }
}
