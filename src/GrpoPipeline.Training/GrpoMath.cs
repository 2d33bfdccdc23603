using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace GrpoPipeline.Training;

/// <summary>
/// What the loss needs from a rollout, per (prompt b, position l, token v), summed over the G responses that put
/// token v at (b, l): the positive and negative parts of their deltas and how many there were. Built once per rollout
/// under no-grad; every tensor is [B, L, V].
/// </summary>
/// <remarks>
/// Every per-token term of the GRPO loss depends on a sample only through (b, l, v) and its delta, so summing over the
/// samples first is exact: PPO's min(r·A, clip(r)·A) is A·min(r, 1+ε_high) for A &gt; 0 and A·max(r, 1−ε_low) for
/// A &lt; 0. The μ inner steps then work on [B, L, V] with no gather, no scatter in backward and no [B, G, L, V].
/// </remarks>
public sealed record TokenStatistics(Tensor PositiveDeltas, Tensor NegativeDeltas, Tensor PositiveCounts, Tensor NegativeCounts, Tensor Counts, Tensor Unsampled, long Tokens, long Responses)
{
    /// <summary>Σ δ over the samples at each (b, l, v).</summary>
    public Tensor Deltas => PositiveDeltas.add(NegativeDeltas, Scalars.One);

    /// <summary>
    /// <paramref name="logProbs"/> − <paramref name="other"/> where a token was sampled, 0 elsewhere. Unsampled
    /// tokens carry zero weight, but their log-probs can move by more than 88 nats between rollout and update (a
    /// confident policy's e^-150 becoming e^-40); exp of that is inf, and inf·0 is NaN in the loss and its gradient.
    /// </summary>
    public Tensor LogRatio(Tensor logProbs, Tensor other) => (logProbs - other).masked_fill(Unsampled, Scalars.Zero);
}

/// <summary>
/// One inner step's objective: the clipped surrogate and the KL estimate (values, for the metrics) and the gradient of
/// PolicyLoss + β·KL with respect to the log-probs [B, L, V].
/// </summary>
public sealed record Objective(Tensor PolicyLoss, Tensor Kl, Tensor Gradient);

/// <summary>The settings of the per-token (general) loss; <see cref="GrpoOptions.TokenLoss"/> builds them.</summary>
/// <param name="Mode">Surrogate: naive, unclipped or clipped.</param>
/// <param name="ClipLow">ε_low.</param>
/// <param name="ClipHigh">ε_high.</param>
/// <param name="Aggregation">How per-token losses are averaged.</param>
/// <param name="Ratio">Ratio per token or per sequence.</param>
/// <param name="Estimator">KL estimator.</param>
/// <param name="KlCoef">β; 0 leaves the KL term out.</param>
/// <param name="MaxResponseLength">The longest response, for the constant aggregation.</param>
/// <param name="DualClip">The dual clip's bound c on the ratio of negative advantages; null for off.</param>
/// <param name="EntropyCoef">The entropy bonus's coefficient; 0 leaves it out.</param>
public sealed record TokenLoss(LossMode Mode, double ClipLow, double ClipHigh, LossAggregation Aggregation, RatioLevel Ratio,
    KlEstimator Estimator, double KlCoef, int MaxResponseLength, double? DualClip = null, double EntropyCoef = 0);

/// <summary>
/// One inner step of the per-token path: the loss to backpropagate (policy + β·KL), and, without gradients, the values
/// the metrics need.
/// </summary>
/// <param name="Loss">Policy loss + β·KL, with gradients.</param>
/// <param name="PolicyLoss">The aggregated surrogate.</param>
/// <param name="Kl">The KL(π‖π_ref) estimate: summed over each response's tokens, averaged over responses.</param>
/// <param name="ClipLow">Share of tokens (responses, for a sequence ratio) clipped below with a negative advantage.</param>
/// <param name="ClipHigh">Share clipped above with a positive advantage.</param>
/// <param name="ApproxKlOld">Mean over tokens of (r − 1) − log r against π_old (cleanrl's approx_kl).</param>
/// <param name="ClipDual">Share of tokens (responses) whose ratio the dual clip bounds: above c with a negative advantage.</param>
public sealed record SequenceObjective(Tensor Loss, Tensor PolicyLoss, Tensor Kl, Tensor ClipLow, Tensor ClipHigh, Tensor ApproxKlOld, Tensor ClipDual);

/// <summary>
/// The pure math of GRPO: tensors in, fresh tensors out, no model. Shapes use B prompts, G responses per prompt,
/// L positions and V tokens. Per-response log-probs are laid out [B, L, G] because that is what a gather from the
/// policy's [B, L, V] log-probs produces without expanding to [B, G, L, V]. The per-sample functions are the
/// definitions; the <see cref="TokenStatistics"/> overloads compute the same values on [B, L, V] and are what the
/// trainer runs.
/// </summary>
public static partial class GrpoMath
{
    /// <summary>
    /// Log-probs of sampled tokens: <paramref name="logProbs"/> [B, L, V] and <paramref name="responses"/> [B, L, G]
    /// give [B, L, G]. One gather, no [B, G, L, V] expansion.
    /// </summary>
    public static Tensor Gather(Tensor logProbs, Tensor responses) => logProbs.gather(2, responses);

    /// <summary>
    /// The policy-gradient loss, a mean over B·L·G tokens. <paramref name="logp"/> and <paramref name="logpOld"/> are
    /// [B, L, G]; <paramref name="deltas"/> is [B, G]. ratio = exp(logp − logp_old), never a quotient of log-probs.
    /// </summary>
    /// <remarks>
    /// With <paramref name="dualClip"/> c the clipped objective of a negative delta is also bounded below by c·δ:
    /// max(min(r·δ, clip(r)·δ), c·δ) (Ye et al. 2020), so a ratio above c stops contributing gradient.
    /// </remarks>
    public static Tensor PolicyLoss(Tensor logp, Tensor logpOld, Tensor deltas, LossMode mode, double clipLow, double clipHigh, double? dualClip = null)
    {
        using var scope = NewDisposeScope();
        using var s = new ScalarScope();
        var d = deltas.unsqueeze(1);                                   // [B, 1, G] broadcasts over positions
        Tensor loss;
        if (mode == LossMode.Naive)
            loss = -(logp * d).mean();
        else
        {
            var ratio = (logp - logpOld).exp();
            var unclipped = ratio * d;
            if (mode == LossMode.Unclipped) loss = -unclipped.mean();
            else
            {
                var objective = minimum(unclipped, ratio.clamp(s[1 - clipLow], s[1 + clipHigh]) * d);   // PPO, Schulman 2017
                if (dualClip is { } c) objective = where(d < Scalars.Zero, maximum(objective, d * s[c]), objective);
                loss = -objective.mean();
            }
        }
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>Share of tokens whose ratio the dual clip bounds: above <paramref name="dualClip"/> with a negative delta.</summary>
    public static Tensor DualClipFraction(Tensor logp, Tensor logpOld, Tensor deltas, double dualClip)
    {
        using var scope = NewDisposeScope();
        using var s = new ScalarScope();
        var ratio = (logp - logpOld).exp();
        return ((ratio > s[dualClip]) & (deltas.unsqueeze(1) < Scalars.Zero)).to(ScalarType.Float32).mean().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Share of tokens where the clip binds: ratio below 1−ε_low with a negative delta (low), or above 1+ε_high with
    /// a positive delta (high).
    /// </summary>
    public static (Tensor Low, Tensor High) ClipFractions(Tensor logp, Tensor logpOld, Tensor deltas, double clipLow, double clipHigh)
    {
        using var scope = NewDisposeScope();
        using var s = new ScalarScope();
        var ratio = (logp - logpOld).exp();
        var d = deltas.unsqueeze(1);
        var low = ((ratio < s[1 - clipLow]) & (d < Scalars.Zero)).to(ScalarType.Float32).mean();
        var high = ((ratio > s[1 + clipHigh]) & (d > Scalars.Zero)).to(ScalarType.Float32).mean();
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
            KlEstimator.K2 => logRatio.pow(Scalars.Two) * Scalars.Half,
            KlEstimator.K3 => logRatio.exp() - logRatio - Scalars.One,
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

    /// <summary>
    /// Sums a rollout's deltas and sample counts per (b, l, v). <paramref name="responses"/> is [B, L, G];
    /// <paramref name="weights"/> [B, L, G], when given, scales each sampled token's delta (the overlapped rollouts'
    /// importance weights: a positive weight on a token's loss is a weight on its delta, since the clip acts on the
    /// ratio alone).
    /// </summary>
    public static TokenStatistics Aggregate(Tensor responses, Tensor deltas, long vocab, Tensor? weights = null)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long batch = responses.shape[0], length = responses.shape[1], group = responses.shape[2];
        var d = deltas.unsqueeze(1).expand(batch, length, group);            // a view, no copy
        if (weights is not null) d = d * weights;
        Tensor Sum(Tensor values) => zeros(batch, length, vocab, dtype: values.dtype).scatter_add_(2, responses, values.contiguous());
        var positive = d.clamp_min(Scalars.Zero);
        var counts = Sum(ones_like(positive));
        var stats = new TokenStatistics(Sum(positive), Sum(d.clamp_max(Scalars.Zero)), Sum((d > Scalars.Zero).to(d.dtype)), Sum((d < Scalars.Zero).to(d.dtype)),
            counts, counts == Scalars.Zero, batch * length * group, batch * group);
        foreach (var t in new[] { stats.PositiveDeltas, stats.NegativeDeltas, stats.PositiveCounts, stats.NegativeCounts, stats.Counts, stats.Unsampled })
            t.MoveToOuterDisposeScope();
        return stats;
    }

    /// <summary>
    /// <see cref="PolicyLoss(Tensor, Tensor, Tensor, LossMode, double, double, double?)"/> from full log-probs [B, L, V] and
    /// the rollout's <see cref="TokenStatistics"/>: the same value and gradient.
    /// </summary>
    public static Tensor PolicyLoss(Tensor logProbs, Tensor logProbsOld, TokenStatistics s, LossMode mode, double clipLow, double clipHigh, double? dualClip = null)
    {
        using var scope = NewDisposeScope();
        var ratio = mode == LossMode.Naive ? null : s.LogRatio(logProbs, logProbsOld).exp();
        return PolicyLossFromRatio(logProbs, ratio, s, mode, clipLow, clipHigh, dualClip).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The aggregated policy loss given the masked ratio r = e^(x − x_old) (null for the naive loss). Negative deltas
    /// see r clamped to [1−ε_low, c] with the dual clip c (the max with c·δ), to [1−ε_low, ∞) without.
    /// </summary>
    static Tensor PolicyLossFromRatio(Tensor logProbs, Tensor? ratio, TokenStatistics s, LossMode mode, double clipLow, double clipHigh, double? dualClip)
    {
        using var k = new ScalarScope();
        var total = mode switch
        {
            LossMode.Naive => (logProbs * s.Deltas).sum(),
            LossMode.Unclipped => (ratio! * s.Deltas).sum(),
            _ => (ratio!.clamp_max(k[1 + clipHigh]) * s.PositiveDeltas)
                  .add((dualClip is { } c ? ratio!.clamp(k[1 - clipLow], k[c]) : ratio!.clamp_min(k[1 - clipLow])) * s.NegativeDeltas, Scalars.One).sum(),
        };
        return total * k[-1.0 / s.Tokens];
    }

    /// <summary>
    /// <see cref="SampledKl(Tensor, Tensor, KlEstimator)"/> from full log-probs [B, L, V]: each (b, l, v) term counted
    /// as often as it was sampled, divided by the B·G responses.
    /// </summary>
    public static Tensor SampledKl(Tensor logProbs, Tensor refLogProbs, TokenStatistics s, KlEstimator estimator)
    {
        using var scope = NewDisposeScope();
        var logRatio = s.LogRatio(refLogProbs, logProbs);
        return SampledKlFromLogRatio(logRatio, estimator == KlEstimator.K3 ? logRatio.exp() : null, s, estimator).MoveToOuterDisposeScope();
    }

    /// <summary>The aggregated KL estimate given the masked c = x_ref − x (and e^c for k3).</summary>
    static Tensor SampledKlFromLogRatio(Tensor logRatio, Tensor? expLogRatio, TokenStatistics s, KlEstimator estimator)
    {
        var perToken = estimator switch
        {
            KlEstimator.K1 => -logRatio,
            KlEstimator.K2 => logRatio.pow(Scalars.Two) * Scalars.Half,
            KlEstimator.K3 => expLogRatio! - logRatio - Scalars.One,
            _ => throw new ArgumentOutOfRangeException(nameof(estimator), estimator, "use ExactKl for the exact estimator"),
        };
        using var k = new ScalarScope();
        return (perToken * s.Counts).sum() * k[1.0 / s.Responses];
    }

    /// <summary>
    /// The values of <see cref="PolicyLoss(Tensor, Tensor, TokenStatistics, LossMode, double, double, double?)"/> and of the KL
    /// term, and the gradient of PolicyLoss + <paramref name="klCoef"/>·KL with respect to <paramref name="logProbs"/>,
    /// in closed form and without autograd. The trainer backpropagates (log-probs · Gradient).sum(), whose gradient is
    /// exactly this one: two autograd nodes per inner step instead of about twenty (TokenStatisticsTests holds it to
    /// autograd's gradient for every loss mode and estimator). <paramref name="refLogProbs"/> is null without a KL term.
    /// </summary>
    /// <remarks>
    /// Per (b, l, v), with x the log-prob, r = e^(x − x_old) and T the sampled tokens, R the responses:
    /// naive −D/T; unclipped −r·D/T; clipped −r·(D⁺·[r ≤ 1+ε_high] + D⁻·[r ≥ 1−ε_low])/T (torch's clamp passes the
    /// gradient at the bound); with c = x_ref − x, k1 n/R, k2 −c·n/R, k3 (1 − e^c)·n/R; exact e^x(x − x_ref + 1)/B.
    /// Unsampled tokens have D = n = 0, so their gradient is 0 as through the masked log-ratio.
    /// </remarks>
    public static Objective LossAndGradient(Tensor logProbs, Tensor logProbsOld, Tensor? refLogProbs, TokenStatistics s,
        LossMode mode, double clipLow, double clipHigh, KlEstimator estimator, double klCoef, double? dualClip = null, double entropyCoef = 0)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var k = new ScalarScope();
        var ratio = mode == LossMode.Naive ? null : s.LogRatio(logProbs, logProbsOld).exp();
        var policy = PolicyLossFromRatio(logProbs, ratio, s, mode, clipLow, clipHigh, dualClip);
        var gradient = mode switch
        {
            LossMode.Naive => s.Deltas,
            LossMode.Unclipped => ratio! * s.Deltas,
            _ => ratio! * (s.PositiveDeltas * (ratio! <= k[1 + clipHigh]))
                .add(s.NegativeDeltas * (dualClip is { } c ? (ratio! >= k[1 - clipLow]) & (ratio! <= k[c]) : ratio! >= k[1 - clipLow]), Scalars.One),
        } * k[-1.0 / s.Tokens];
        // −coef·H with H the mean entropy over the B·L positions: ∂H/∂x = −e^x(x + 1)/(B·L).
        if (entropyCoef > 0)
            gradient = gradient.add(logProbs.exp() * logProbs.add(Scalars.One, Scalars.One) * k[entropyCoef / (logProbs.shape[0] * logProbs.shape[1])], Scalars.One);

        var kl = zeros(1, dtype: logProbs.dtype).squeeze();
        if (refLogProbs is not null)
        {
            Tensor klGradient;
            if (estimator == KlEstimator.Exact)
            {
                kl = ExactKl(logProbs, refLogProbs);
                klGradient = logProbs.exp() * (logProbs - refLogProbs).add(Scalars.One, Scalars.One) * k[1.0 / logProbs.shape[0]];
            }
            else
            {
                var c = s.LogRatio(refLogProbs, logProbs);
                var expC = estimator == KlEstimator.K3 ? c.exp() : null;
                kl = SampledKlFromLogRatio(c, expC, s, estimator);
                var perToken = estimator switch
                {
                    KlEstimator.K1 => ones_like(c),
                    KlEstimator.K2 => -c,
                    _ => -(expC! - Scalars.One),   // 1 − e^c, exactly
                };
                klGradient = perToken * s.Counts * k[1.0 / s.Responses];
            }
            gradient = gradient.add(klGradient * k[klCoef], Scalars.One);
        }
        return new Objective(policy.MoveToOuterDisposeScope(), kl.MoveToOuterDisposeScope(), gradient.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// cleanrl's approx_kl against π_old, mean over the sampled tokens of (r − 1) − log r, from full log-probs
    /// [B, L, V] and the rollout's statistics (each (b, l, v) counted as often as it was sampled).
    /// </summary>
    public static Tensor ApproxKlOld(Tensor logProbs, Tensor logProbsOld, TokenStatistics s)
    {
        using var scope = NewDisposeScope();
        using var k = new ScalarScope();
        var logRatio = s.LogRatio(logProbs, logProbsOld);
        return (((logRatio.exp() - Scalars.One - logRatio) * s.Counts).sum() / k[s.Tokens]).MoveToOuterDisposeScope();
    }

    /// <summary><see cref="DualClipFraction(Tensor, Tensor, Tensor, double)"/> from full log-probs [B, L, V].</summary>
    public static Tensor DualClipFraction(Tensor logProbs, Tensor logProbsOld, TokenStatistics s, double dualClip)
    {
        using var scope = NewDisposeScope();
        using var k = new ScalarScope();
        var ratio = s.LogRatio(logProbs, logProbsOld).exp();
        return (((ratio > k[dualClip]).to(s.Counts.dtype) * s.NegativeCounts).sum() / k[s.Tokens]).MoveToOuterDisposeScope();
    }

    /// <summary><see cref="ClipFractions(Tensor, Tensor, Tensor, double, double)"/> from full log-probs [B, L, V].</summary>
    public static (Tensor Low, Tensor High) ClipFractions(Tensor logProbs, Tensor logProbsOld, TokenStatistics s, double clipLow, double clipHigh)
    {
        using var scope = NewDisposeScope();
        using var k = new ScalarScope();
        var ratio = s.LogRatio(logProbs, logProbsOld).exp();
        var low = ((ratio < k[1 - clipLow]).to(s.Counts.dtype) * s.NegativeCounts).sum() / k[s.Tokens];
        var high = ((ratio > k[1 + clipHigh]).to(s.Counts.dtype) * s.PositiveCounts).sum() / k[s.Tokens];
        return (low.MoveToOuterDisposeScope(), high.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The general per-sample objective on the sampled tokens of N responses, [N, T] with a mask: what an
    /// autoregressive policy trains with, and what the <see cref="TokenStatistics"/> fast path equals for a factorised
    /// one. <paramref name="logp"/> (with gradients) and <paramref name="logpOld"/> are the log-probs of the sampled
    /// tokens under π and π_old, <paramref name="advantages"/> [N] the responses' deltas, <paramref name="mask"/> 1 on
    /// a response's tokens. The KL term needs <paramref name="refLogp"/> [N, T] for k1/k2/k3, or the full next-token
    /// log-distributions <paramref name="logProbs"/> and <paramref name="refLogProbs"/> [N, T, V] for the exact one.
    /// The entropy bonus needs <paramref name="entropy"/> [N, T], each token's next-token entropy under π (with
    /// gradients). <paramref name="weights"/> [N, T], when given, multiplies each token's policy loss (the overlapped
    /// rollouts' truncated importance weights).
    /// </summary>
    /// <remarks>
    /// Per token, r = e^(x − x_old): naive −x·A; unclipped −r·A; clipped −min(r·A, clip(r, 1−ε_low, 1+ε_high)·A)
    /// (PPO, Schulman 2017). With a sequence ratio, s = exp(mean over the response's tokens of x − x_old) replaces r,
    /// and every token of the response carries that response's term (GSPO). Aggregation (T_i tokens in response i,
    /// N responses): sequence_mean (1/|{i: T_i &gt; 0}|) Σ_i (1/T_i) Σ_t ℓ_it; token_mean Σ ℓ / Σ_i T_i; constant
    /// Σ ℓ / (N·maxResponseLength); the weights multiply ℓ before it. With the dual clip c a negative advantage's term
    /// is −max(min(r·A, clip(r)·A), c·A) (Ye et al. 2020). The entropy bonus subtracts coef × the token mean of the
    /// entropies. KL(π‖π_ref) is the sequence KL — summed over a response's tokens — averaged over
    /// the N responses, whatever the aggregation (the lecture's and this trainer's fast path); per token, with
    /// c = x_ref − x: k1 −c, k2 c²/2, k3 e^c − c − 1 (Schulman 2020), exact Σ_v π(v)(log π(v) − log π_ref(v)).
    /// </remarks>
    public static SequenceObjective SequenceLoss(Tensor logp, Tensor logpOld, Tensor advantages, Tensor mask, TokenLoss o,
        Tensor? refLogp = null, Tensor? logProbs = null, Tensor? refLogProbs = null, Tensor? entropy = null, Tensor? weights = null)
    {
        using var scope = NewDisposeScope();
        using var k = new ScalarScope();
        long rows = logp.shape[0];
        var live = mask.gt(Scalars.Zero);
        var tokens = mask.sum(1);                                               // [N]
        var allTokens = mask.sum().clamp_min(Scalars.One);
        // Masked slots carry no ratio: their log-probs may be anything (a padded target), and e^(inf) would poison the sum.
        var logRatio = (logp - logpOld).masked_fill(live.logical_not(), Scalars.Zero);
        Tensor perToken, clipLow, clipHigh, clipDual;
        using (var _ = no_grad()) (clipLow, clipHigh, clipDual) = (zeros(1).squeeze(), zeros(1).squeeze(), zeros(1).squeeze());
        if (o.Mode == LossMode.Naive)
            perToken = -(logp * advantages.unsqueeze(1));
        else if (o.Ratio == RatioLevel.Token)
        {
            var ratio = logRatio.exp();
            var a = advantages.unsqueeze(1);
            perToken = Surrogate(ratio, a, o);
            using var _ = no_grad();
            clipLow = ((ratio < k[1 - o.ClipLow]) & (a < Scalars.Zero) & live).to(ScalarType.Float32).sum() / allTokens;
            clipHigh = ((ratio > k[1 + o.ClipHigh]) & (a > Scalars.Zero) & live).to(ScalarType.Float32).sum() / allTokens;
            if (o.DualClip is { } c) clipDual = ((ratio > k[c]) & (a < Scalars.Zero) & live).to(ScalarType.Float32).sum() / allTokens;
        }
        else
        {
            var ratio = ((logRatio * mask).sum(1) / tokens.clamp_min(Scalars.One)).exp();   // [N], 1 for an empty response
            perToken = Surrogate(ratio, advantages, o).unsqueeze(1).expand_as(mask);
            using var _ = no_grad();
            var responses = tokens.gt(Scalars.Zero);
            var counted = responses.to(ScalarType.Float32).sum().clamp_min(Scalars.One);
            clipLow = ((ratio < k[1 - o.ClipLow]) & (advantages < Scalars.Zero) & responses).to(ScalarType.Float32).sum() / counted;
            clipHigh = ((ratio > k[1 + o.ClipHigh]) & (advantages > Scalars.Zero) & responses).to(ScalarType.Float32).sum() / counted;
            if (o.DualClip is { } c) clipDual = ((ratio > k[c]) & (advantages < Scalars.Zero) & responses).to(ScalarType.Float32).sum() / counted;
        }
        var weighted = perToken * (weights is null ? mask : mask * weights);
        var policy = o.Aggregation switch
        {
            LossAggregation.SequenceMean => (weighted.sum(1) / tokens.clamp_min(Scalars.One)).sum() / tokens.gt(Scalars.Zero).to(ScalarType.Float32).sum().clamp_min(Scalars.One),
            LossAggregation.TokenMean => weighted.sum() / allTokens,
            _ => weighted.sum() / k[rows * (double)o.MaxResponseLength],
        };

        var loss = policy;
        var kl = zeros(1).squeeze();
        if (o.KlCoef > 0 && (refLogp is not null || refLogProbs is not null))
        {
            Tensor perTokenKl;
            if (o.Estimator == KlEstimator.Exact)
                perTokenKl = (logProbs!.exp() * (logProbs! - refLogProbs!)).sum(-1);
            else
            {
                var c = (refLogp! - logp).masked_fill(live.logical_not(), Scalars.Zero);
                perTokenKl = o.Estimator switch
                {
                    KlEstimator.K1 => -c,
                    KlEstimator.K2 => c.pow(Scalars.Two) * Scalars.Half,
                    _ => c.exp() - c - Scalars.One,
                };
            }
            kl = (perTokenKl * mask).sum() / k[rows];
            loss = policy.add(kl * k[o.KlCoef], Scalars.One);
        }
        // The entropy bonus: the token mean of the next-token entropies over the responses' tokens.
        if (o.EntropyCoef > 0 && entropy is not null)
            loss = loss - (entropy * mask).sum() / allTokens * k[o.EntropyCoef];

        Tensor approxKlOld;
        using (var _ = no_grad())
        {
            var r = logRatio.exp();
            approxKlOld = ((r - Scalars.One - logRatio) * mask).sum() / allTokens;   // cleanrl's approx_kl, against π_old
        }
        return new SequenceObjective(loss.MoveToOuterDisposeScope(), policy.detach().MoveToOuterDisposeScope(), kl.detach().MoveToOuterDisposeScope(),
            clipLow.MoveToOuterDisposeScope(), clipHigh.MoveToOuterDisposeScope(), approxKlOld.MoveToOuterDisposeScope(), clipDual.MoveToOuterDisposeScope());
    }

    static Tensor Surrogate(Tensor ratio, Tensor advantages, TokenLoss o)
    {
        if (o.Mode == LossMode.Unclipped) return -(ratio * advantages);
        using var k = new ScalarScope();
        var objective = minimum(ratio * advantages, ratio.clamp(k[1 - o.ClipLow], k[1 + o.ClipHigh]) * advantages);   // PPO, Schulman 2017
        return o.DualClip is { } c ? -where(advantages < Scalars.Zero, maximum(objective, advantages * k[c]), objective) : -objective;   // Ye et al. 2020
    }
}
