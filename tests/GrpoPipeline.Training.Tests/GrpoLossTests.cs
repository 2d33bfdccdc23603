using NUnit.Framework;
using static GrpoPipeline.Training.Tests.TestScalars;
using static TorchSharp.torch;

namespace GrpoPipeline.Training.Tests;

/// <summary>
/// <see cref="GrpoLoss.Compute"/>, the definition of the objective, on small hand-computed examples: each surrogate,
/// the clip range's two sides, the token and sequence ratios, each aggregation, each KL estimator, the masks and the
/// metrics. (The dual clip, the entropy bonus and the importance weights have theirs in StabilityToolsTests.)
/// </summary>
[TestFixture]
public sealed class GrpoLossTests
{
    // Two responses: the first has 2 tokens with ratios 1.5 and 0.5 and delta +1, the second 1 token with ratio
    // 1.3 and delta −1. Slots past a response's end hold junk that the mask must hide. ε_low = ε_high = 0.2.
    static readonly float[] Ratios = [1.5f, 0.5f, 1.3f];
    static Tensor Mask() => tensor(new float[] { 1, 1, 0, 1, 0, 0 }, [2, 3]);
    static Tensor LogpOld() => tensor(new float[] { -1f, -2f, 0f, -0.5f, 0f, 0f }, [2, 3]);
    static Tensor Logp() => LogpOld().add(tensor(new[] { MathF.Log(1.5f), MathF.Log(0.5f), 40f, MathF.Log(1.3f), -30f, 50f }, [2, 3]), Scalars.One);
    static Tensor Deltas() => tensor(new float[] { 1, -1 });

    static TokenLoss Settings(LossMode mode = LossMode.Clipped, LossAggregation aggregation = LossAggregation.TokenMean,
        RatioLevel ratio = RatioLevel.Token, double klCoef = 0, KlEstimator estimator = KlEstimator.K3, double clipLow = 0.2, double clipHigh = 0.2) =>
        new(mode, clipLow, clipHigh, aggregation, ratio, estimator, klCoef, MaxResponseLength: 4);

    static LossOutput Loss(Tensor logp, Tensor logpOld, Tensor deltas, Tensor mask, TokenLoss settings, Tensor? refLogp = null) =>
        GrpoLoss.Compute(new LossInputs(logp, logpOld, deltas, mask) { RefLogp = refLogp }, settings);

    static double Value(LossMode mode, LossAggregation aggregation, RatioLevel ratio)
    {
        using var scope = NewDisposeScope();
        return Loss(Logp(), LogpOld(), Deltas(), Mask(), Settings(mode, aggregation, ratio)).Loss.item<float>();
    }

    // ---- surrogates and aggregation ---------------------------------------------------------------------------------

    // Clipped per token: −min(1.5, 1.2)·1 = −1.2; −min(0.5, 0.8)·1 = −0.5; −min(−1.3, −1.2) = 1.3.
    [TestCase(LossAggregation.SequenceMean, (-0.85 + 1.3) / 2)]         // ((−1.2 − 0.5)/2 + 1.3)/2
    [TestCase(LossAggregation.TokenMean, (-1.2 - 0.5 + 1.3) / 3)]       // over the 3 response tokens
    [TestCase(LossAggregation.Constant, (-1.2 - 0.5 + 1.3) / (2 * 4))]  // over N · maxResponseLength = 8
    public void Clipped_Token_Ratio_Under_Each_Aggregation(LossAggregation aggregation, double expected) =>
        Assert.That(Value(LossMode.Clipped, aggregation, RatioLevel.Token), Is.EqualTo(expected).Within(1e-6));

    [Test]
    public void Unclipped_And_Naive_Token_Losses()
    {
        // Unclipped: −1.5, −0.5, +1.3. Naive: −δ·log π on the log-probs themselves.
        Assert.That(Value(LossMode.Unclipped, LossAggregation.TokenMean, RatioLevel.Token), Is.EqualTo((-1.5 - 0.5 + 1.3) / 3).Within(1e-6));
        double naive = (-(-1 + Math.Log(1.5)) - (-2 + Math.Log(0.5)) + (-0.5 + Math.Log(1.3))) / 3;
        Assert.That(Value(LossMode.Naive, LossAggregation.TokenMean, RatioLevel.Token), Is.EqualTo(naive).Within(1e-6));
    }

    [Test]
    public void Naive_Gradient_Is_Minus_Delta_Over_The_Token_Count()
    {
        using var scope = NewDisposeScope();
        // Two responses of 2 tokens, δ = 2 and −1: −Σ δ·log π / 4 = −(2·(−1 − 0.5) − (−2 − 3))/4 = −(−3 + 5)/4 = −0.5.
        var logp = tensor(new float[] { -1f, -0.5f, -2f, -3f }, [2, 2]).requires_grad_(true);
        var o = Loss(logp, logp.detach(), tensor(new float[] { 2, -1 }), ones(2, 2), Settings(LossMode.Naive));
        o.Loss.backward();
        Assert.That(o.Loss.item<float>(), Is.EqualTo(-0.5).Within(1e-6));
        Assert.That(logp.grad!.data<float>().ToArray(), Is.EqualTo(new[] { -0.5f, -0.5f, 0.25f, 0.25f }).Within(1e-6));
    }

    [Test]
    public void The_Ratio_Treats_Pi_Old_As_A_Constant()
    {
        using var scope = NewDisposeScope();
        // Lecture §6.1: with π_old live, d(π/π_old) cancels to 0. π_old is the detached sampling pass, so at π = π_old
        // the unclipped loss −r·δ/4 has gradient −r·δ/4 = −δ/4: −0.5 for δ = 2, +0.25 for δ = −1.
        var logp = tensor(new float[] { -1f, -0.5f, -2f, -3f }, [2, 2]).requires_grad_(true);
        Loss(logp, logp.detach(), tensor(new float[] { 2, -1 }), ones(2, 2), Settings(LossMode.Unclipped)).Loss.backward();
        Assert.That(logp.grad!.data<float>().ToArray(), Is.EqualTo(new[] { -0.5f, -0.5f, 0.25f, 0.25f }).Within(1e-6));
    }

    [Test]
    public void The_Gradient_Flows_Only_Through_Unclipped_Unmasked_Tokens()
    {
        using var scope = NewDisposeScope();
        var logp = Logp().requires_grad_(true);
        Loss(logp, LogpOld(), Deltas(), Mask(), Settings()).Loss.backward();
        // d/dx of −r·δ/3 is −r·δ/3: token 0 is clipped (0), token 1 gives −0.5/3, token 3 gives +1.3/3; masked slots 0.
        Assert.That(logp.grad!.data<float>().ToArray(), Is.EqualTo(new[] { 0f, -0.5f / 3, 0f, 1.3f / 3, 0f, 0f }).Within(1e-6));
    }

    [Test]
    public void Clip_High_Bounds_Ratios_Above_One_And_Clip_Low_Ratios_Below_One()
    {
        using var scope = NewDisposeScope();
        // Two one-token responses: ratio e^0.3 ≈ 1.350 with δ = +1, ratio e^−0.3 ≈ 0.741 with δ = −1.
        var logpOld = tensor(new float[] { -1f, -1f }, [2, 1]);
        var logp = tensor(new float[] { -0.7f, -1.3f }, [2, 1]).requires_grad_(true);
        var deltas = tensor(new float[] { 1, -1 });
        double up = Math.Exp(0.3), down = Math.Exp(-0.3);

        // ε_low = 0.2, ε_high = 0.5: 1.35 < 1.5 stays, 0.741 < 0.8 is clipped to 0.8 (min(−0.741, −0.8) = −0.8).
        var wideHigh = Loss(logp, logpOld, deltas, ones(2, 1), Settings(clipLow: 0.2, clipHigh: 0.5));
        // ε_low = 0.5, ε_high = 0.2: 1.35 is clipped to 1.2, 0.741 > 0.5 stays.
        var wideLow = Loss(logp, logpOld, deltas, ones(2, 1), Settings(clipLow: 0.5, clipHigh: 0.2));
        wideHigh.Loss.backward();

        Assert.That(wideHigh.Loss.item<float>(), Is.EqualTo(-(up * 1 + 0.8 * -1) / 2).Within(1e-6));
        Assert.That(wideLow.Loss.item<float>(), Is.EqualTo(-(1.2 * 1 + down * -1) / 2).Within(1e-6));
        // Only the unclipped token moves: −r·δ/2 for the first, 0 for the clipped second.
        Assert.That(logp.grad!.data<float>().ToArray(), Is.EqualTo(new[] { (float)(-up / 2), 0f }).Within(1e-6));
    }

    [Test]
    public void Cispo_Weights_Each_Tokens_Log_Prob_By_Its_Clipped_Ratio_Without_Dropping_Any()
    {
        using var scope = NewDisposeScope();
        // Four one-token responses, log π_old = −1, ε_low = ε_high = 0.2, token mean over 4:
        //   r = e^0.5 ≈ 1.65, δ = +1: weight 1.2, gradient −1.2/4        (PPO: clipped, 0)
        //   r = e^0.1 ≈ 1.11, δ = +1: weight r, gradient −e^0.1/4        (PPO: the same, −r·δ/4)
        //   r = e^0.5,        δ = −1: weight 1.2, gradient +1.2/4        (PPO: unbounded, +e^0.5/4)
        //   r = e^−0.5 ≈ 0.61, δ = +1: weight 0.8, gradient −0.8/4       (PPO: −e^−0.5/4)
        // Value −Σ w·δ·log π / 4 with log π = −0.5, −0.9, −0.5, −1.5: (0.6 + 0.9·e^0.1 − 0.6 + 1.2)/4.
        var logpOld = full(4, 1, K[-1f]);
        var diff = tensor(new[] { 0.5f, 0.1f, 0.5f, -0.5f }, [4, 1]);
        var deltas = tensor(new float[] { 1, 1, -1, 1 });
        float[] Gradient(LossMode mode, double clipLow, out double value)
        {
            var logp = logpOld.add(diff, Scalars.One).requires_grad_(true);
            var o = Loss(logp, logpOld, deltas, ones(4, 1), Settings(mode, clipLow: clipLow));
            o.Loss.backward();
            value = o.Loss.item<float>();
            return logp.grad!.data<float>().ToArray();
        }

        var cispo = Gradient(LossMode.Cispo, 0.2, out double value);
        var ppo = Gradient(LossMode.Clipped, 0.2, out _);
        var noLowerBound = Gradient(LossMode.Cispo, 1, out _);   // M1's setting: the weight is only bounded above

        float e1 = MathF.Exp(0.1f), e5 = MathF.Exp(0.5f), eMinus5 = MathF.Exp(-0.5f);
        Assert.That(value, Is.EqualTo((0.9 * Math.Exp(0.1) + 1.2) / 4).Within(1e-6));
        Assert.That(cispo, Is.EqualTo(new[] { -1.2f / 4, -e1 / 4, 1.2f / 4, -0.8f / 4 }).Within(1e-6));
        Assert.That(ppo, Is.EqualTo(new[] { 0f, -e1 / 4, e5 / 4, -eMinus5 / 4 }).Within(1e-6));
        Assert.That(noLowerBound, Is.EqualTo(new[] { -1.2f / 4, -e1 / 4, 1.2f / 4, -eMinus5 / 4 }).Within(1e-6));
    }

    [Test]
    public void Sequence_Ratio_Is_The_Geometric_Mean_Clipped_Per_Response()
    {
        // s₀ = √(1.5 · 0.5) = 0.866 inside the clip range: −0.866 on both tokens; s₁ = 1.3 with δ = −1: −min(−1.3, −1.2) = 1.3.
        double s0 = Math.Sqrt(0.75);
        Assert.That(Value(LossMode.Clipped, LossAggregation.SequenceMean, RatioLevel.Sequence), Is.EqualTo((-s0 + 1.3) / 2).Within(1e-6));
        Assert.That(Value(LossMode.Clipped, LossAggregation.TokenMean, RatioLevel.Sequence), Is.EqualTo((-2 * s0 + 1.3) / 3).Within(1e-6));
    }

    [Test]
    public void A_Masked_Response_Adds_Nothing()
    {
        using var scope = NewDisposeScope();
        // Masking the second response (a truncated one under maskTruncated) leaves the first response's loss.
        var mask = tensor(new float[] { 1, 1, 0, 0, 0, 0 }, [2, 3]);
        var logp = Logp().requires_grad_(true);
        var o = Loss(logp, LogpOld(), Deltas(), mask, Settings(aggregation: LossAggregation.SequenceMean));
        o.Loss.backward();
        Assert.That(o.Loss.item<float>(), Is.EqualTo((-1.2 - 0.5) / 2).Within(1e-6), "the mean runs over responses that have tokens");
        Assert.That(logp.grad!.narrow(0, 1, 1).abs().sum().item<float>(), Is.Zero);
    }

    // ---- metrics ----------------------------------------------------------------------------------------------------

    [Test]
    public void Clip_Shares_And_Approx_Kl_Against_Pi_Old()
    {
        using var scope = NewDisposeScope();
        var o = Loss(Logp(), LogpOld(), Deltas(), Mask(), Settings());
        // High: ratio 1.5 > 1.2 with δ > 0 (1 of 3 tokens). Low needs δ < 0 and r < 0.8: none.
        Assert.That(o.ClipHigh.item<float>(), Is.EqualTo(1f / 3).Within(1e-6));
        Assert.That(o.ClipLow.item<float>(), Is.Zero);
        double approx = Ratios.Sum(r => (r - 1) - Math.Log(r)) / 3;   // cleanrl: (r − 1) − log r
        Assert.That(o.ApproxKlOld.item<float>(), Is.EqualTo(approx).Within(1e-6));
    }

    [Test]
    public void Clip_Shares_Count_Each_Side_Only_Where_The_Clip_Binds()
    {
        using var scope = NewDisposeScope();
        // Three responses of 2 tokens, δ = +1, −1, 0; log π − log π_old:
        //   δ = +1: +0.3, +0.3 (ratio 1.35 twice: high with ε_high = 0.1, not with 0.5)
        //   δ = −1: −0.3, 0    (0.74: low with ε_low = 0.1 or 0.2; 1.00: neither)
        //   δ =  0: +0.3, −0.3 (no δ sign: neither)
        var logp = tensor(new[] { 0.3f, 0.3f, -0.3f, 0f, 0.3f, -0.3f }, [3, 2]);
        var deltas = tensor(new float[] { 1, -1, 0 });

        var narrow = Loss(logp, zeros(3, 2), deltas, ones(3, 2), Settings(clipLow: 0.1, clipHigh: 0.1));
        var asymmetric = Loss(logp, zeros(3, 2), deltas, ones(3, 2), Settings(clipLow: 0.2, clipHigh: 0.5));

        Assert.That(narrow.ClipLow.item<float>(), Is.EqualTo(1.0 / 6).Within(1e-6));
        Assert.That(narrow.ClipHigh.item<float>(), Is.EqualTo(2.0 / 6).Within(1e-6));
        Assert.That(asymmetric.ClipLow.item<float>(), Is.EqualTo(1.0 / 6).Within(1e-6));
        Assert.That(asymmetric.ClipHigh.item<float>(), Is.Zero);
    }

    [Test]
    public void With_A_Sequence_Ratio_The_Clip_Shares_Count_Responses()
    {
        using var scope = NewDisposeScope();
        // Response 0: two tokens of ratio 1.5, s = 1.5 with δ = +1 (high); response 1: one token of ratio 0.5 with
        // δ = −1 (low). One response of two on each side, although the first has two tokens.
        var logp = tensor(new[] { MathF.Log(1.5f), MathF.Log(1.5f), MathF.Log(0.5f), 7f }, [2, 2]);
        var o = Loss(logp, zeros(2, 2), Deltas(), tensor(new float[] { 1, 1, 1, 0 }, [2, 2]), Settings(ratio: RatioLevel.Sequence));
        Assert.That(o.ClipLow.item<float>(), Is.EqualTo(0.5f));
        Assert.That(o.ClipHigh.item<float>(), Is.EqualTo(0.5f));
    }

    // ---- the KL term ------------------------------------------------------------------------------------------------

    // Two responses of 2 tokens; c = log π_ref − log π = (−0.5, 0) and (1, −1).
    static Tensor KlLogp() => tensor(new float[] { -1f, -0.5f, -2f, -1.5f }, [2, 2]);
    static Tensor KlRefLogp() => tensor(new float[] { -1.5f, -0.5f, -1f, -2.5f }, [2, 2]);

    // k1 = −c: sums 0.5 and 0, mean 0.25. k2 = c²/2: sums 0.125 and 1, mean 0.5625.
    // k3 = e^c − c − 1: sums e^−0.5 − 0.5 and (e − 2) + e^−1.
    [TestCase(KlEstimator.K1, 0.25)]
    [TestCase(KlEstimator.K2, 0.5625)]
    [TestCase(KlEstimator.K3, (0.60653065971263342 - 0.5 + 2.7182818284590451 - 2 + 0.36787944117144233) / 2)]
    public void Sampled_Kl_Estimators_By_Hand(KlEstimator estimator, double expected)
    {
        using var scope = NewDisposeScope();
        var o = Loss(KlLogp(), KlLogp(), zeros(2), ones(2, 2), Settings(klCoef: 0.1, estimator: estimator), KlRefLogp());
        Assert.That(o.Kl.item<float>(), Is.EqualTo(expected).Within(1e-6));
        Assert.That(o.Loss.item<float>(), Is.EqualTo(0.1 * expected).Within(1e-6), "the policy loss of zero deltas is 0");
    }

    [TestCase(LossAggregation.SequenceMean)]
    [TestCase(LossAggregation.TokenMean)]
    [TestCase(LossAggregation.Constant)]
    public void Kl_Is_Summed_Over_A_Response_And_Averaged_Over_Responses_Whatever_The_Aggregation(LossAggregation aggregation)
    {
        using var scope = NewDisposeScope();
        // k1 per token = log π − log π_ref: 1, 2, 3 in the first response (sum 6), 2, 3 and a masked 99 in the second
        // (sum 5): mean 5.5.
        var logp = tensor(new float[] { 1, 2, 3, 2, 3, 99 }, [2, 3]);
        var o = Loss(logp, logp, zeros(2), tensor(new float[] { 1, 1, 1, 1, 1, 0 }, [2, 3]),
            Settings(aggregation: aggregation, klCoef: 1, estimator: KlEstimator.K1), zeros(2, 3));
        Assert.That(o.Kl.item<float>(), Is.EqualTo(5.5).Within(1e-6));
    }

    [Test]
    public void K3_Ignores_Masked_Slots_And_Adds_Beta_Times_Kl_To_The_Loss()
    {
        using var scope = NewDisposeScope();
        // c = x_ref − x: ln 2 and 0 on the first response, −ln 2 on the second (junk in masked slots).
        var refLogp = Logp().add(tensor(new[] { MathF.Log(2), 0f, 7f, -MathF.Log(2), 9f, 9f }, [2, 3]), Scalars.One);
        var o = Loss(Logp(), LogpOld(), Deltas(), Mask(), Settings(klCoef: 0.1), refLogp);
        double k3 = (2 - Math.Log(2) - 1) + 0 + (0.5 + Math.Log(2) - 1);   // e^c − c − 1 per token
        Assert.That(o.Kl.item<float>(), Is.EqualTo(k3 / 2).Within(1e-6));
        Assert.That(o.Loss.item<float>(), Is.EqualTo((-1.2 - 0.5 + 1.3) / 3 + 0.1 * k3 / 2).Within(1e-6));
    }

    [Test]
    public void Exact_Kl_Sums_Over_The_Next_Token_Distribution()
    {
        using var scope = NewDisposeScope();
        // π = (0.25, 0.75), π_ref = (0.5, 0.5): KL = 0.25 ln(0.5) + 0.75 ln(1.5) ≈ 0.1308.
        var logProbs = tensor(new[] { MathF.Log(0.25f), MathF.Log(0.75f) }, [1, 1, 2]);
        var refLogProbs = tensor(new[] { MathF.Log(0.5f), MathF.Log(0.5f) }, [1, 1, 2]);
        var logp = logProbs.narrow(2, 0, 1).squeeze(2);
        double expected = 0.25 * Math.Log(0.25 / 0.5) + 0.75 * Math.Log(0.75 / 0.5);

        var o = GrpoLoss.Compute(new LossInputs(logp, logp, zeros(1), ones(1, 1)) { LogProbs = logProbs, RefLogProbs = refLogProbs },
            Settings(klCoef: 1, estimator: KlEstimator.Exact));

        Assert.That(o.Kl.item<float>(), Is.EqualTo(expected).Within(1e-6));
    }

    [Test]
    public void K3_Is_Nonnegative_For_Every_Single_Token()
    {
        using var scope = NewDisposeScope();
        var c = randn(new long[] { 500 }, generator: new Generator(17)) * K[4];
        Assert.That(KlEstimate.Sampled(KlEstimator.K3, c).data<float>().ToArray(), Is.All.GreaterThanOrEqualTo(0f));
    }

    [Test]
    public void Monte_Carlo_Means_Of_K3_And_K1_Approach_The_Exact_Kl()
    {
        using var scope = NewDisposeScope();
        const int V = 6, N = 200_000;
        var g = new Generator(1234);
        var logPi = randn(new long[] { V }, generator: g).log_softmax(0);
        var logRef = randn(new long[] { V }, generator: g).log_softmax(0);

        // Exact KL(π‖π_ref) = Σ_v π(v)(log π(v) − log π_ref(v)), in doubles from the raw values.
        var lp = logPi.data<float>().ToArray();
        var lq = logRef.data<float>().ToArray();
        double exact = Enumerable.Range(0, V).Sum(v => Math.Exp(lp[v]) * (lp[v] - lq[v]));
        Assert.That(exact, Is.GreaterThan(0.05), "premise: the seeded pair is clearly different");

        // N one-token responses sampled from π: the KL term is the mean of the per-token estimates.
        var samples = multinomial(logPi.exp(), N, replacement: true, generator: g);
        var logp = logPi.index_select(0, samples).reshape(N, 1);
        var refLogp = logRef.index_select(0, samples).reshape(N, 1);
        double Kl(KlEstimator estimator) => Loss(logp, logp, zeros(N), ones(N, 1), Settings(klCoef: 1, estimator: estimator), refLogp).Kl.item<float>();

        Assert.That(Kl(KlEstimator.K3), Is.EqualTo(exact).Within(3).Percent);
        Assert.That(Kl(KlEstimator.K1), Is.EqualTo(exact).Within(5).Percent);
    }
}
