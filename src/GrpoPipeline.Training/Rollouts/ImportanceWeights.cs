using GrpoPipeline.Core;
using static TorchSharp.torch;

namespace GrpoPipeline.Training.Rollouts;

/// <summary>
/// The correction for responses sampled with older weights than the ones the epoch starts from (overlapped rollouts):
/// the PPO ratio is taken against π_old, the current weights before the μ steps, and each token's loss is weighted by
/// w = min(π_old / π_behaviour, C) — the decoupled objective of Hilton et al. 2021 ("Batch size-invariance for policy
/// optimization") with the truncation of IMPALA's V-trace (Espeholt et al. 2018), as in Yao et al. 2025 ("Your efficient
/// RL framework secretly brings you off-policy RL training").
/// </summary>
static class ImportanceWeights
{
    /// <summary>
    /// w = min(exp(<paramref name="logpOld"/> − <paramref name="behaviourLogp"/>), <paramref name="cap"/>) on the tokens
    /// of <paramref name="mask"/> (1 elsewhere); logs the mean weight before and after truncation and the truncated share.
    /// </summary>
    public static Tensor Truncated(Tensor logpOld, Tensor behaviourLogp, Tensor mask, double cap, EpochMetrics metrics)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var s = new ScalarScope();
        var live = mask.gt(Scalars.Zero);
        var raw = (logpOld - behaviourLogp).masked_fill(live.logical_not(), Scalars.Zero).exp();
        var truncated = raw.clamp_max(s[cap]);
        double tokens = Math.Max(1, mask.sum().item<float>());
        metrics.Add(MetricKeys.OverlapIsWeight, (raw * mask).sum().item<float>() / tokens);
        metrics.Add(MetricKeys.OverlapIsWeightTruncated, (truncated * mask).sum().item<float>() / tokens);
        metrics.Add(MetricKeys.OverlapIsTruncatedShare, (raw.gt(s[cap]) & live).sum().item<long>() / tokens);
        return truncated.MoveToOuterDisposeScope();
    }
}
