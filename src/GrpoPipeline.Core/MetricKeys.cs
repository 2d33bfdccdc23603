namespace GrpoPipeline.Core;

/// <summary>
/// The keys of <c>metrics.jsonl</c>: the trainer writes them, the plots and the CLI read them. One line per epoch
/// holds <see cref="Epoch"/> and these keys.
/// </summary>
public static class MetricKeys
{
    public const string Epoch = "epoch";
    public const string RewardMean = "reward/mean", RewardStd = "reward/std", RewardMin = "reward/min", RewardMax = "reward/max";
    public const string RewardInclusionOrdering = "reward/inclusion_ordering", RewardSortDistance = "reward/sort_distance", RewardExact = "reward/exact";
    /// <summary>Share of groups whose rewards are all equal: no learning signal under centered deltas.</summary>
    public const string RewardFracZeroStd = "reward/frac_zero_std";
    public const string LossPolicy = "loss/policy", LossKl = "loss/kl";
    public const string ClipRatioLow = "clip/ratio_low", ClipRatioHigh = "clip/ratio_high";
    public const string PolicyEntropy = "policy/entropy", GradNorm = "grad/norm", LearningRate = "optim/lr";
    public const string HeldOutExact = "heldout/exact", HeldOutReward = "heldout/reward";
    /// <summary>Wall-clock keys: the only ones that differ between two runs of the same config and seed.</summary>
    public const string EpochSeconds = "perf/epoch_s", SamplesPerSecond = "perf/samples_per_s";
}
