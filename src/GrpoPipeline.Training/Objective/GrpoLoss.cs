using TorchSharp;
using static TorchSharp.torch;

namespace GrpoPipeline.Training;

/// <summary>The settings of the loss; <see cref="GrpoOptions.TokenLoss"/> builds them from the config.</summary>
/// <param name="Mode">The surrogate (see <see cref="LossMode"/>).</param>
/// <param name="ClipLow">ε_low: the clip's lower bound is 1 − ε_low.</param>
/// <param name="ClipHigh">ε_high: the clip's upper bound is 1 + ε_high.</param>
/// <param name="Aggregation">How per-token losses are averaged.</param>
/// <param name="Ratio">Ratio per token or per sequence.</param>
/// <param name="Estimator">KL estimator.</param>
/// <param name="KlCoef">β; 0 leaves the KL term out.</param>
/// <param name="MaxResponseLength">The longest response, for the constant aggregation.</param>
/// <param name="DualClip">The dual clip's bound c on the ratio of negative deltas; null for off.</param>
/// <param name="EntropyCoef">The entropy bonus's coefficient; 0 leaves it out.</param>
public sealed record TokenLoss(LossMode Mode, double ClipLow, double ClipHigh, LossAggregation Aggregation, RatioLevel Ratio,
    KlEstimator Estimator, double KlCoef, int MaxResponseLength, double? DualClip = null, double EntropyCoef = 0);

/// <summary>
/// What the loss reads about N responses of at most T tokens, laid out [N, T] with a mask. Only the first four are
/// always needed; the others feed the term that uses them.
/// </summary>
/// <param name="Logp">log π of each sampled token, [N, T], with gradients.</param>
/// <param name="LogpOld">log π_old of the same tokens, [N, T]: a constant (sampled under no-grad).</param>
/// <param name="Deltas">Each response's δ, [N] (the config's <c>grpo.deltas</c>).</param>
/// <param name="Mask">1 on a response's tokens, 0 on padding and on masked responses, [N, T].</param>
public sealed record LossInputs(Tensor Logp, Tensor LogpOld, Tensor Deltas, Tensor Mask)
{
    /// <summary>log π_ref of the sampled tokens, [N, T]: what k1, k2 and k3 read. Null without a KL term.</summary>
    public Tensor? RefLogp { get; init; }

    /// <summary>The full next-token log-distributions under π, [N, T, V] with gradients: what the exact KL reads.</summary>
    public Tensor? LogProbs { get; init; }

    /// <summary>The full next-token log-distributions under π_ref, [N, T, V]: what the exact KL reads.</summary>
    public Tensor? RefLogProbs { get; init; }

    /// <summary>Each token's next-token entropy under π, [N, T] with gradients: what the entropy bonus reads.</summary>
    public Tensor? Entropy { get; init; }

    /// <summary>
    /// Per-token importance weights, [N, T], that multiply each token's policy loss (the overlapped rollouts' truncated
    /// weights min(π_old/π_behaviour, C)). Null for 1.
    /// </summary>
    public Tensor? Weights { get; init; }
}

/// <summary>
/// One inner step's objective: a scalar to backpropagate, and, without gradients, the values the metrics need.
/// </summary>
/// <param name="Loss">A scalar whose gradient is that of policy loss + β·KL − coef·entropy. <see cref="GrpoLoss"/>
/// gives the loss itself; <see cref="FactorisedFastPath"/> gives (log-probs · closed-form gradient).sum(), which has
/// the same gradient but not the same value.</param>
/// <param name="PolicyLoss">The aggregated surrogate (the <c>loss/policy</c> metric).</param>
/// <param name="Kl">The KL(π‖π_ref) estimate: summed over each response's tokens, averaged over responses (0 without one).</param>
/// <param name="ClipLow">Share of tokens (responses, for a sequence ratio) with a ratio below 1 − ε_low and a negative δ; 0 for the naive loss.</param>
/// <param name="ClipHigh">Share with a ratio above 1 + ε_high and a positive δ; 0 for the naive loss.</param>
/// <param name="ApproxKlOld">Mean over tokens of (r − 1) − log r against π_old (cleanrl's approx_kl).</param>
/// <param name="ClipDual">Share whose ratio the dual clip bounds: above c with a negative δ (0 without the dual clip).</param>
public sealed record LossOutput(Tensor Loss, Tensor PolicyLoss, Tensor Kl, Tensor ClipLow, Tensor ClipHigh, Tensor ApproxKlOld, Tensor ClipDual);

/// <summary>
/// The GRPO objective, defined once (the shape of TRL's <c>_compute_loss</c>): per-token terms on the sampled tokens
/// of N responses with a mask, one switch for the surrogate, one for the aggregation, the KL term and the entropy bonus.
/// Every policy kind can train with it; <see cref="FactorisedFastPath"/> is a faster form of it for factorised
/// policies, which a test holds equal to it in value and gradient.
/// </summary>
public static class GrpoLoss
{
    /// <summary>The loss of one inner step and its metrics.</summary>
    /// <remarks>
    /// Per token, with r = e^(x − x_old) and δ the response's delta: naive −δ·x; unclipped −r·δ; clipped
    /// −min(r·δ, clip(r, 1−ε_low, 1+ε_high)·δ) (PPO, Schulman 2017), and with the dual clip c a negative δ's term is
    /// −max(min(r·δ, clip(r)·δ), c·δ) (Ye et al. 2020); cispo −sg(clip(r, 1−ε_low, 1+ε_high))·δ·x with sg the
    /// stop-gradient (MiniMax-M1, 2025). With a sequence ratio, s = exp(mean over the response's tokens of x − x_old)
    /// replaces r, and every token of the response carries that response's term (GSPO). The importance weights
    /// multiply each token's term. Aggregation (T_i tokens in response i, N responses):
    /// sequence_mean (1/|{i: T_i &gt; 0}|) Σ_i (1/T_i) Σ_t ℓ_it; token_mean Σ ℓ / Σ_i T_i; constant
    /// Σ ℓ / (N·maxResponseLength). KL(π‖π_ref) is the sequence KL — summed over a response's tokens — averaged over
    /// the N responses, whatever the aggregation; the entropy bonus subtracts coef × the token mean of the entropies.
    /// </remarks>
    public static LossOutput Compute(LossInputs x, TokenLoss o)
    {
        using var scope = NewDisposeScope();
        using var k = new ScalarScope();
        var (logp, mask) = (x.Logp, x.Mask);
        long rows = logp.shape[0];
        var live = mask.gt(Scalars.Zero);
        var tokens = mask.sum(1);                                               // [N]
        var allTokens = mask.sum().clamp_min(Scalars.One);
        // Masked slots carry no ratio: their log-probs may be anything (a padded target), and e^(inf) would poison the sum.
        var logRatio = (logp - x.LogpOld).masked_fill(live.logical_not(), Scalars.Zero);
        var deltas = x.Deltas.unsqueeze(1);                                     // [N, 1]
        // The ratio per token [N, T], or per response [N, 1] (GSPO: 1 for an empty response); the naive loss has none.
        Tensor? ratio = o.Mode == LossMode.Naive ? null
            : o.Ratio == RatioLevel.Token ? logRatio.exp()
            : ((logRatio * mask).sum(1) / tokens.clamp_min(Scalars.One)).exp().unsqueeze(1);
        var clip = ClipRange.Of(o, k);
        var perToken = Surrogate(logp, ratio, deltas, o.Mode, clip).expand_as(mask);

        Tensor clipLow, clipHigh, clipDual;
        using (var _ = no_grad())
        {
            (clipLow, clipHigh, clipDual) = (zeros(1).squeeze(), zeros(1).squeeze(), zeros(1).squeeze());
            if (ratio is not null)
            {
                // Shares of what the ratio is taken over: the response tokens, or the responses that have any.
                var responses = tokens.gt(Scalars.Zero);
                var (counted, count) = o.Ratio == RatioLevel.Token
                    ? (live, allTokens)
                    : (responses.unsqueeze(1), responses.to(ScalarType.Float32).sum().clamp_min(Scalars.One));
                Tensor Share(Tensor condition) => (condition & counted).to(ScalarType.Float32).sum() / count;
                clipLow = Share((ratio < clip.Low) & (deltas < Scalars.Zero));
                clipHigh = Share((ratio > clip.High) & (deltas > Scalars.Zero));
                if (clip.Dual is { } c) clipDual = Share((ratio > c) & (deltas < Scalars.Zero));
            }
        }
        var weighted = perToken * (x.Weights is null ? mask : mask * x.Weights);
        var policy = o.Aggregation switch
        {
            LossAggregation.SequenceMean => (weighted.sum(1) / tokens.clamp_min(Scalars.One)).sum() / tokens.gt(Scalars.Zero).to(ScalarType.Float32).sum().clamp_min(Scalars.One),
            LossAggregation.TokenMean => weighted.sum() / allTokens,
            LossAggregation.Constant => weighted.sum() / k[rows * (double)o.MaxResponseLength],
            _ => throw new ArgumentOutOfRangeException(nameof(o), o.Aggregation, null),
        };

        var loss = policy;
        var kl = zeros(1).squeeze();
        if (o.KlCoef > 0 && (x.RefLogp is not null || x.RefLogProbs is not null))
        {
            var perTokenKl = o.Estimator == KlEstimator.Exact
                ? KlEstimate.Exact(x.LogProbs!, x.RefLogProbs!).sum(-1)
                : KlEstimate.Sampled(o.Estimator, (x.RefLogp! - logp).masked_fill(live.logical_not(), Scalars.Zero));
            kl = (perTokenKl * mask).sum() / k[rows];
            loss = policy.add(kl * k[o.KlCoef], Scalars.One);
        }
        // The entropy bonus: the token mean of the next-token entropies over the responses' tokens.
        if (o.EntropyCoef > 0 && x.Entropy is not null)
            loss = loss - (x.Entropy * mask).sum() / allTokens * k[o.EntropyCoef];

        Tensor approxKlOld;
        using (var _ = no_grad())
            approxKlOld = (KlEstimate.ApproxKlOld(logRatio) * mask).sum() / allTokens;
        return new LossOutput(loss.MoveToOuterDisposeScope(), policy.detach().MoveToOuterDisposeScope(), kl.detach().MoveToOuterDisposeScope(),
            clipLow.MoveToOuterDisposeScope(), clipHigh.MoveToOuterDisposeScope(), approxKlOld.MoveToOuterDisposeScope(), clipDual.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Each token's surrogate loss from its log-prob <paramref name="logp"/> [N, T], its <paramref name="ratio"/>
    /// ([N, T], or [N, 1] per response; null for the naive loss) and its response's <paramref name="deltas"/> [N, 1].
    /// </summary>
    static Tensor Surrogate(Tensor logp, Tensor? ratio, Tensor deltas, LossMode mode, ClipRange clip) => mode switch
    {
        LossMode.Naive => -(logp * deltas),
        LossMode.Unclipped => -(ratio! * deltas),
        // PPO's −min(r·δ, clip(r)·δ) is −δ·min(r, 1+ε_high) for δ > 0 and −δ·max(r, 1−ε_low) for δ < 0 (the dual clip
        // caps the latter at c): the same numbers, and the form the fast path sums per token.
        LossMode.Clipped => -(where(deltas > Scalars.Zero, clip.ForPositive(ratio!), clip.ForNegative(ratio!)) * deltas),
        // CISPO (MiniMax-M1, 2025): the clipped ratio is a constant weight on REINFORCE's −δ·log π.
        LossMode.Cispo => -(ratio!.clamp(clip.Low, clip.High).detach() * deltas * logp),
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
    };
}

/// <summary>
/// PPO's clip range [1 − ε_low, 1 + ε_high] (Schulman et al. 2017) and the dual clip's c (Ye et al. 2020), as Scalars of
/// a scope, with what the loss and the fast path do with them. The one place the clip is written.
/// </summary>
readonly record struct ClipRange(Scalar Low, Scalar High, Scalar? Dual)
{
    public static ClipRange Of(TokenLoss o, ScalarScope k) => new(k[1 - o.ClipLow], k[1 + o.ClipHigh], o.DualClip is { } c ? k[c] : null);

    /// <summary>The ratio a positive δ sees: min(r, 1+ε_high), since δ·min(r, clip(r)) = min(r·δ, clip(r)·δ).</summary>
    public Tensor ForPositive(Tensor ratio) => ratio.clamp_max(High);

    /// <summary>The ratio a negative δ sees: max(r, 1−ε_low), capped at c by the dual clip's max with c·δ.</summary>
    public Tensor ForNegative(Tensor ratio) => Dual is { } c ? ratio.clamp(Low, c) : ratio.clamp_min(Low);

    /// <summary>Where <see cref="ForPositive"/> passes the gradient (torch's clamp passes it at the bound).</summary>
    public Tensor PassesPositive(Tensor ratio) => ratio <= High;

    /// <summary>Where <see cref="ForNegative"/> passes the gradient.</summary>
    public Tensor PassesNegative(Tensor ratio) => Dual is { } c ? (ratio >= Low) & (ratio <= c) : ratio >= Low;
}

/// <summary>
/// The estimators of KL(π‖π_ref) per sampled token (Schulman 2020, "Approximating KL divergence"; k3 is the lecture's),
/// each with its derivative with respect to log π for the fast path's closed form. The one place they are written.
/// </summary>
static class KlEstimate
{
    /// <summary>k1, k2 or k3 of each token from c = log π_ref − log π of the sampled token (0 where masked).</summary>
    public static Tensor Sampled(KlEstimator estimator, Tensor c) => estimator switch
    {
        KlEstimator.K1 => -c,                                   // log π − log π_ref
        KlEstimator.K2 => c.pow(Scalars.Two) * Scalars.Half,     // ½ (log π − log π_ref)²
        // π_ref/π − 1 − log(π_ref/π), with e^c − 1 first: it is exact near c = 0, where e^c − c would round away c²/2.
        KlEstimator.K3 => c.exp() - Scalars.One - c,
        _ => throw new ArgumentOutOfRangeException(nameof(estimator), estimator, "the exact estimator reads whole distributions: Exact"),
    };

    /// <summary>d/d log π of <see cref="Sampled"/>, which depends on log π only through c: k1 1, k2 −c, k3 1 − e^c.</summary>
    public static Tensor SampledDerivative(KlEstimator estimator, Tensor c) => estimator switch
    {
        KlEstimator.K1 => ones_like(c),
        KlEstimator.K2 => -c,
        KlEstimator.K3 => -(c.exp() - Scalars.One),
        _ => throw new ArgumentOutOfRangeException(nameof(estimator), estimator, "the exact estimator reads whole distributions: ExactDerivative"),
    };

    /// <summary>
    /// cleanrl's approx_kl per token, (r − 1) − log r with r = π/π_old from <paramref name="logRatio"/> = log π − log π_old:
    /// k3 of KL(π_old‖π) on tokens sampled from π_old, the <see cref="Sampled"/> k3 of c = log r.
    /// </summary>
    public static Tensor ApproxKlOld(Tensor logRatio) => Sampled(KlEstimator.K3, logRatio);

    /// <summary>
    /// The exact KL's terms π(v)(log π(v) − log π_ref(v)) of next-token log-distributions [..., V]; a position's KL is
    /// their sum over v.
    /// </summary>
    public static Tensor Exact(Tensor logProbs, Tensor refLogProbs) => logProbs.exp() * (logProbs - refLogProbs);

    /// <summary>d/d log π(v) of a position's exact KL: π(v)(log π(v) − log π_ref(v) + 1).</summary>
    public static Tensor ExactDerivative(Tensor logProbs, Tensor refLogProbs) => logProbs.exp() * (logProbs - refLogProbs).add(Scalars.One, Scalars.One);
}
