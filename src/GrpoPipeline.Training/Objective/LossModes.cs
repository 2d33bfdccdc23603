namespace GrpoPipeline.Training;

// The loss's modes: the values of grpo.deltas, grpo.loss, grpo.lossAggregation, grpo.ratioLevel and grpo.klEstimator.

/// <summary>How rewards become the per-response weights δ of the policy gradient.</summary>
public enum DeltasMode
{
    /// <summary>δ = R (naive policy gradient).</summary>
    Rewards,
    /// <summary>δ = R − mean of the group.</summary>
    Centered,
    /// <summary>δ = (R − mean) / (unbiased std of the group + 1e-5), as in the lecture.</summary>
    Normalized,
    /// <summary>The lecture's max_rewards: δ = R where R is the group maximum, else 0.</summary>
    Max,
    /// <summary>δ = (R − group mean) / (unbiased std of all rewards in the batch + 1e-5).</summary>
    BatchNormalized,
    /// <summary>
    /// Leave-one-out: δ_i = R_i − mean of the other G − 1 rewards of the group = G/(G−1)·(R_i − group mean) (RLOO,
    /// Kool et al. 2019; Ahmadian et al. 2024). Needs G ≥ 2, which <c>grpo.groupSize</c> always is.
    /// </summary>
    Rloo,
}

/// <summary>The policy-gradient surrogate.</summary>
public enum LossMode
{
    /// <summary>−δ·log π.</summary>
    Naive,
    /// <summary>−ratio·δ with ratio = exp(log π − log π_old).</summary>
    Unclipped,
    /// <summary>PPO's −min(ratio·δ, clip(ratio, 1−ε_low, 1+ε_high)·δ).</summary>
    Clipped,
    /// <summary>
    /// CISPO (MiniMax-M1, 2025): −sg(clip(ratio, 1−ε_low, 1+ε_high))·δ·log π, the clipped ratio a constant weight, so
    /// every token keeps a gradient (bounded by the clip) where PPO's clip drops it. ε_low and ε_high are
    /// <c>clipLow</c> and <c>clipHigh</c>; M1 sets no lower bound, which is <c>clipLow: 1</c> (allowed with cispo only).
    /// </summary>
    Cispo,
}

/// <summary>How the per-token policy loss of a batch of responses becomes one number.</summary>
public enum LossAggregation
{
    /// <summary>Mean over each response's tokens, then over responses (the GRPO paper, Shao et al. 2024).</summary>
    SequenceMean,
    /// <summary>Mean over all response tokens of the batch, so long responses weigh more (DAPO, Yu et al. 2025).</summary>
    TokenMean,
    /// <summary>Sum over tokens divided by B·G·(maxLength + 1), a constant (Dr. GRPO, Liu et al. 2025).</summary>
    Constant,
}

/// <summary>Where the importance ratio π/π_old is taken.</summary>
public enum RatioLevel
{
    /// <summary>One ratio per token, exp(log π − log π_old), clipped per token (PPO, GRPO).</summary>
    Token,
    /// <summary>
    /// One ratio per response, exp(mean over its tokens of log π − log π_old), clipped per response (GSPO, Zheng et
    /// al. 2025).
    /// </summary>
    Sequence,
}

/// <summary>Estimator of KL(π‖π_ref) per position (Schulman, "Approximating KL divergence", 2020).</summary>
public enum KlEstimator
{
    /// <summary>log π − log π_ref.</summary>
    K1,
    /// <summary>½(log π − log π_ref)².</summary>
    K2,
    /// <summary>exp(log π_ref − log π) − (log π_ref − log π) − 1, the lecture's.</summary>
    K3,
    /// <summary>Σ_v π(v)(log π(v) − log π_ref(v)) over the whole per-position distribution.</summary>
    Exact,
}
