using static TorchSharp.torch;

namespace GrpoPipeline.Training;

/// <summary>
/// The pure math of GRPO: tensors in, fresh tensors out, no model. Shapes use B prompts, G responses per prompt,
/// L positions and V tokens. Per-response log-probs are laid out [B, L, G] because that is what a gather from the
/// policy's [B, L, V] log-probs produces without expanding to [B, G, L, V].
/// </summary>
public static class GrpoMath
{
    const double StdEpsilon = 1e-5;   // the lecture's

    /// <summary>Deltas [B, G] from rewards [B, G].</summary>
    public static Tensor Deltas(Tensor rewards, DeltasMode mode)
    {
        using var scope = NewDisposeScope();
        var result = mode switch
        {
            DeltasMode.Rewards => rewards.clone(),
            DeltasMode.Centered => rewards - rewards.mean([-1], keepdim: true),
            // torch.std is unbiased by default, like the lecture's rewards.std(dim=-1).
            DeltasMode.Normalized => (rewards - rewards.mean([-1], keepdim: true)) / (rewards.std(-1, unbiased: true, keepdim: true) + StdEpsilon),
            DeltasMode.Max => where(rewards == rewards.amax([-1], keepdim: true), rewards, zeros_like(rewards)),
            DeltasMode.BatchNormalized => (rewards - rewards.mean([-1], keepdim: true)) / (rewards.std(unbiased: true) + StdEpsilon),
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
        };
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Log-probs of sampled tokens: <paramref name="logProbs"/> [B, L, V] and <paramref name="responses"/> [B, L, G]
    /// give [B, L, G]. One gather, no [B, G, L, V] expansion.
    /// </summary>
    public static Tensor Gather(Tensor logProbs, Tensor responses) => logProbs.gather(2, responses);

    /// <summary>
    /// The policy-gradient loss, a mean over B·L·G tokens. <paramref name="logp"/> and <paramref name="logpOld"/> are
    /// [B, L, G]; <paramref name="deltas"/> is [B, G]. ratio = exp(logp − logp_old), never a quotient of log-probs.
    /// </summary>
    public static Tensor PolicyLoss(Tensor logp, Tensor logpOld, Tensor deltas, LossMode mode, double clipLow, double clipHigh)
    {
        using var scope = NewDisposeScope();
        var d = deltas.unsqueeze(1);                                   // [B, 1, G] broadcasts over positions
        Tensor loss;
        if (mode == LossMode.Naive)
            loss = -(logp * d).mean();
        else
        {
            var ratio = (logp - logpOld).exp();
            var unclipped = ratio * d;
            loss = mode == LossMode.Unclipped
                ? -unclipped.mean()
                : -minimum(unclipped, ratio.clamp(1 - clipLow, 1 + clipHigh) * d).mean();   // PPO, Schulman 2017
        }
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Share of tokens where the clip binds: ratio below 1−ε_low with a negative delta (low), or above 1+ε_high with
    /// a positive delta (high).
    /// </summary>
    public static (Tensor Low, Tensor High) ClipFractions(Tensor logp, Tensor logpOld, Tensor deltas, double clipLow, double clipHigh)
    {
        using var scope = NewDisposeScope();
        var ratio = (logp - logpOld).exp();
        var d = deltas.unsqueeze(1);
        var low = ((ratio < 1 - clipLow) & (d < 0)).to(ScalarType.Float32).mean();
        var high = ((ratio > 1 + clipHigh) & (d > 0)).to(ScalarType.Float32).mean();
        return (low.MoveToOuterDisposeScope(), high.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Sample-based KL(π‖π_ref) estimate per response, summed over positions and averaged over responses.
    /// <paramref name="logp"/> and <paramref name="refLogp"/> are log-probs of the sampled tokens, [B, L, G].
    /// Estimators from Schulman (2020), "Approximating KL divergence"; k3 is the lecture's.
    /// </summary>
    public static Tensor SampledKl(Tensor logp, Tensor refLogp, KlEstimator estimator)
    {
        using var scope = NewDisposeScope();
        var logRatio = refLogp - logp;                                 // log(π_ref/π)
        var perToken = estimator switch
        {
            KlEstimator.K1 => -logRatio,
            KlEstimator.K2 => logRatio.square() * 0.5,
            KlEstimator.K3 => logRatio.exp() - logRatio - 1,
            _ => throw new ArgumentOutOfRangeException(nameof(estimator), estimator, "use ExactKl for the exact estimator"),
        };
        return perToken.sum(1).mean().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Exact KL(π‖π_ref) from full per-position distributions [B, L, V] of log-probs: Σ_v π(v)(log π(v) − log π_ref(v)),
    /// summed over positions and averaged over prompts.
    /// </summary>
    public static Tensor ExactKl(Tensor logProbs, Tensor refLogProbs)
    {
        using var scope = NewDisposeScope();
        return (logProbs.exp() * (logProbs - refLogProbs)).sum([1, 2]).mean().MoveToOuterDisposeScope();
    }

    /// <summary>Mean per-position entropy of distributions given as log-probs [B, L, V].</summary>
    public static Tensor Entropy(Tensor logProbs)
    {
        using var scope = NewDisposeScope();
        return (-(logProbs.exp() * logProbs).sum(-1)).mean().MoveToOuterDisposeScope();
    }
}
