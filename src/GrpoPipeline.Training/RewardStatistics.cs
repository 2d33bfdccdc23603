using GrpoPipeline.Core;

namespace GrpoPipeline.Training;

/// <summary>Reward metrics of one rollout, computed on the managed reward buffer.</summary>
static class RewardStatistics
{
    public static void Add(EpochMetrics metrics, ReadOnlySpan<float> rewards, int groupSize, RewardComponents components)
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
        metrics.Add(MetricKeys.RewardInclusionOrdering, components.InclusionOrdering);
        metrics.Add(MetricKeys.RewardSortDistance, components.SortDistance);
        metrics.Add(MetricKeys.RewardExact, components.Exact);
        // Groups whose rewards are all equal give zero centered deltas: no learning signal (lecture §5.1).
        metrics.Add(MetricKeys.RewardFracZeroStd, (double)flat / groups);
    }
}
