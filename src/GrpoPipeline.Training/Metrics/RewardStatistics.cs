using GrpoPipeline.Core;

namespace GrpoPipeline.Training;

/// <summary>Reward metrics of one rollout, computed on the managed reward buffer.</summary>
static class RewardStatistics
{
    /// <param name="metrics">Where the metrics go.</param>
    /// <param name="rewards">The weighted rewards, [B, G].</param>
    /// <param name="groupSize">G.</param>
    /// <param name="components">The task's reward components.</param>
    /// <param name="means">Their means over the rollout, in the same order.</param>
    public static void Add(EpochMetrics metrics, ReadOnlySpan<float> rewards, int groupSize, IReadOnlyList<RewardComponent> components, double[] means)
    {
        double sum = 0, min = double.PositiveInfinity, max = double.NegativeInfinity;
        foreach (var r in rewards) { sum += r; min = Math.Min(min, r); max = Math.Max(max, r); }
        double mean = sum / rewards.Length, squares = 0;
        foreach (var r in rewards) squares += (r - mean) * (r - mean);

        int groups = rewards.Length / groupSize, flat = 0;
        for (int g = 0; g < groups; g++)
        {
            var group = rewards.Slice(g * groupSize, groupSize);
            bool allEqual = true;
            foreach (var r in group) allEqual &= r == group[0];
            if (allEqual) flat++;
        }

        metrics.Add(MetricKeys.RewardMean, mean);
        metrics.Add(MetricKeys.RewardStd, Math.Sqrt(squares / rewards.Length));
        metrics.Add(MetricKeys.RewardMin, min);
        metrics.Add(MetricKeys.RewardMax, max);
        for (int c = 0; c < components.Count; c++) metrics.Add(components[c].MetricKey, means[c]);
        // Groups whose rewards are all equal give zero centered deltas: no learning signal (lecture §5.1).
        metrics.Add(MetricKeys.RewardFracZeroStd, (double)flat / groups);
    }
}
