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

        metrics.Add("reward/mean", mean);
        metrics.Add("reward/std", Math.Sqrt(squares / rewards.Length));
        metrics.Add("reward/min", min);
        metrics.Add("reward/max", max);
        metrics.Add("reward/inclusion_ordering", components.InclusionOrdering);
        metrics.Add("reward/sort_distance", components.SortDistance);
        metrics.Add("reward/exact", components.Exact);
        // Groups whose rewards are all equal give zero centered deltas: no learning signal (lecture §5.1).
        metrics.Add("reward/frac_zero_std", (double)flat / groups);
    }
}
