using NUnit.Framework;
using static GrpoPipeline.Training.Tests.TestScalars;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace GrpoPipeline.Training.Tests;

/// <summary>
/// <see cref="GrpoMath.SequenceLoss"/>, the per-token objective of autoregressive policies: each aggregation, the token
/// and sequence ratios, the KL term and the diagnostics on a hand-computed example, and equality (values and
/// gradients) with the <see cref="TokenStatistics"/> fast path on a factorised policy.
/// </summary>
[TestFixture]
public sealed class SequenceLossTests
{
    // Two responses: the first has 2 tokens with ratios 1.5 and 0.5 and advantage +1, the second 1 token with ratio
    // 1.3 and advantage −1. Slots past a response's end hold junk that the mask must hide. ε_low = ε_high = 0.2.
    static readonly float[] Ratios = [1.5f, 0.5f, 1.3f];
    static Tensor Mask() => tensor(new float[] { 1, 1, 0, 1, 0, 0 }, [2, 3]);
    static Tensor LogpOld() => tensor(new float[] { -1f, -2f, 0f, -0.5f, 0f, 0f }, [2, 3]);
    static Tensor Logp() => LogpOld().add(tensor(new[] { MathF.Log(1.5f), MathF.Log(0.5f), 40f, MathF.Log(1.3f), -30f, 50f }, [2, 3]), Scalars.One);
    static Tensor Advantages() => tensor(new float[] { 1, -1 });

    static TokenLoss Options(LossMode mode = LossMode.Clipped, LossAggregation aggregation = LossAggregation.TokenMean,
        RatioLevel ratio = RatioLevel.Token, double klCoef = 0, KlEstimator estimator = KlEstimator.K3) =>
        new(mode, 0.2, 0.2, aggregation, ratio, estimator, klCoef, MaxResponseLength: 4);

    static double Value(LossMode mode, LossAggregation aggregation, RatioLevel ratio)
    {
        using var scope = NewDisposeScope();
        return GrpoMath.SequenceLoss(Logp(), LogpOld(), Advantages(), Mask(), Options(mode, aggregation, ratio)).Loss.item<float>();
    }

    // Clipped per token: −min(1.5, 1.2)·1 = −1.2; −min(0.5, 0.8)·1 = −0.5; −min(−1.3, −1.2) = 1.3.
    [TestCase(LossAggregation.SequenceMean, (-0.85 + 1.3) / 2)]         // ((−1.2 − 0.5)/2 + 1.3)/2
    [TestCase(LossAggregation.TokenMean, (-1.2 - 0.5 + 1.3) / 3)]       // over the 3 response tokens
    [TestCase(LossAggregation.Constant, (-1.2 - 0.5 + 1.3) / (2 * 4))]  // over N · maxResponseLength = 8
    public void Clipped_Token_Ratio_Under_Each_Aggregation(LossAggregation aggregation, double expected) =>
        Assert.That(Value(LossMode.Clipped, aggregation, RatioLevel.Token), Is.EqualTo(expected).Within(1e-6));

    [Test]
    public void Unclipped_And_Naive_Token_Losses()
    {
        // Unclipped: −1.5, −0.5, +1.3. Naive: −log π·A = −ln 1.5 − (−ln 0.5)... on the log-probs themselves.
        Assert.That(Value(LossMode.Unclipped, LossAggregation.TokenMean, RatioLevel.Token), Is.EqualTo((-1.5 - 0.5 + 1.3) / 3).Within(1e-6));
        double naive = (-(-1 + Math.Log(1.5)) - (-2 + Math.Log(0.5)) + (-0.5 + Math.Log(1.3))) / 3;
        Assert.That(Value(LossMode.Naive, LossAggregation.TokenMean, RatioLevel.Token), Is.EqualTo(naive).Within(1e-6));
    }

    [Test]
    public void Sequence_Ratio_Is_The_Geometric_Mean_Clipped_Per_Response()
    {
        // s₀ = √(1.5 · 0.5) = 0.866 inside the clip range: −0.866 on both tokens; s₁ = 1.3 with A = −1: −min(−1.3, −1.2) = 1.3.
        double s0 = Math.Sqrt(0.75);
        Assert.That(Value(LossMode.Clipped, LossAggregation.SequenceMean, RatioLevel.Sequence), Is.EqualTo((-s0 + 1.3) / 2).Within(1e-6));
        Assert.That(Value(LossMode.Clipped, LossAggregation.TokenMean, RatioLevel.Sequence), Is.EqualTo((-2 * s0 + 1.3) / 3).Within(1e-6));
    }

    [Test]
    public void The_Gradient_Flows_Only_Through_Unclipped_Unmasked_Tokens()
    {
        using var scope = NewDisposeScope();
        var logp = Logp().requires_grad_(true);
        GrpoMath.SequenceLoss(logp, LogpOld(), Advantages(), Mask(), Options()).Loss.backward();
        // d/dx of −r·A/3 is −r·A/3: token 0 is clipped (0), token 1 gives −0.5/3, token 3 gives +1.3/3; masked slots 0.
        Assert.That(logp.grad!.data<float>().ToArray(), Is.EqualTo(new[] { 0f, -0.5f / 3, 0f, 1.3f / 3, 0f, 0f }).Within(1e-6));
    }

    [Test]
    public void Clip_Shares_And_Approx_Kl_Against_Pi_Old()
    {
        using var scope = NewDisposeScope();
        var o = GrpoMath.SequenceLoss(Logp(), LogpOld(), Advantages(), Mask(), Options());
        // High: ratio 1.5 > 1.2 with A > 0 (1 of 3 tokens). Low needs A < 0 and r < 0.8: none.
        Assert.That(o.ClipHigh.item<float>(), Is.EqualTo(1f / 3).Within(1e-6));
        Assert.That(o.ClipLow.item<float>(), Is.Zero);
        double approx = Ratios.Sum(r => (r - 1) - Math.Log(r)) / 3;   // cleanrl: (r − 1) − log r
        Assert.That(o.ApproxKlOld.item<float>(), Is.EqualTo(approx).Within(1e-6));
    }

    [Test]
    public void K3_Kl_Is_Summed_Per_Response_And_Averaged_Over_Responses()
    {
        using var scope = NewDisposeScope();
        // c = x_ref − x: ln 2 and 0 on the first response, −ln 2 on the second (junk in masked slots).
        var refLogp = Logp().add(tensor(new[] { MathF.Log(2), 0f, 7f, -MathF.Log(2), 9f, 9f }, [2, 3]), Scalars.One);
        var o = GrpoMath.SequenceLoss(Logp(), LogpOld(), Advantages(), Mask(), Options(klCoef: 0.1), refLogp);
        double k3 = (2 - Math.Log(2) - 1) + 0 + (0.5 + Math.Log(2) - 1);   // e^c − c − 1 per token
        Assert.That(o.Kl.item<float>(), Is.EqualTo(k3 / 2).Within(1e-6));
        Assert.That(o.Loss.item<float>(), Is.EqualTo((-1.2 - 0.5 + 1.3) / 3 + 0.1 * k3 / 2).Within(1e-6));
    }

    [Test]
    public void A_Masked_Response_Adds_Nothing()
    {
        using var scope = NewDisposeScope();
        // Masking the second response (a truncated one under maskTruncated) leaves the first response's loss.
        var mask = tensor(new float[] { 1, 1, 0, 0, 0, 0 }, [2, 3]);
        var logp = Logp().requires_grad_(true);
        var o = GrpoMath.SequenceLoss(logp, LogpOld(), Advantages(), mask, Options(aggregation: LossAggregation.SequenceMean));
        o.Loss.backward();
        Assert.That(o.Loss.item<float>(), Is.EqualTo((-1.2 - 0.5) / 2).Within(1e-6), "the mean runs over responses that have tokens");
        Assert.That(logp.grad!.narrow(0, 1, 1).abs().sum().item<float>(), Is.Zero);
    }

    static IEnumerable<TestCaseData> Modes() =>
        from mode in Enum.GetValues<LossMode>()
        from estimator in Enum.GetValues<KlEstimator>()
        from aggregation in new[] { LossAggregation.TokenMean, LossAggregation.SequenceMean, LossAggregation.Constant }
        select new TestCaseData(mode, estimator, aggregation);

    [TestCaseSource(nameof(Modes))]
    public void Equals_The_Fast_Path_On_A_Factorised_Policy(LossMode mode, KlEstimator estimator, LossAggregation aggregation)
    {
        using var scope = NewDisposeScope();
        manual_seed(7);
        const int B = 3, L = 4, V = 5, G = 6;
        const double beta = 0.05;
        var logProbs = log_softmax(randn(B, L, V), -1).requires_grad_(true);
        var old = log_softmax(logProbs.detach().add(randn(B, L, V) * K[0.3], Scalars.One), -1);
        var reference = log_softmax(logProbs.detach().add(randn(B, L, V) * K[0.5], Scalars.One), -1);
        var responses = multinomial(old.exp().view(B * L, V), G, replacement: true).view(B, L, G);
        var deltas = randn(B, G);

        var stats = GrpoMath.Aggregate(responses, deltas, V);
        var fast = GrpoMath.LossAndGradient(logProbs.detach(), old, reference, stats, mode, 0.2, 0.3, estimator, beta);

        // The same rollout as B·G sequences of L tokens: gathered log-probs, one advantage per response.
        Tensor PerResponse(Tensor t) => t.gather(2, responses).permute(0, 2, 1).reshape(B * G, L);
        Tensor Full(Tensor t) => t.unsqueeze(1).expand(B, G, L, V).reshape(B * G, L, V);
        var general = GrpoMath.SequenceLoss(PerResponse(logProbs), PerResponse(old), deltas.reshape(B * G), ones(B * G, L),
            new TokenLoss(mode, 0.2, 0.3, aggregation, RatioLevel.Token, estimator, beta, L),
            PerResponse(reference), Full(logProbs), Full(reference));
        general.Loss.backward();

        Assert.That(general.PolicyLoss.item<float>(), Is.EqualTo(fast.PolicyLoss.item<float>()).Within(1e-5), "policy loss");
        Assert.That(general.Kl.item<float>(), Is.EqualTo(fast.Kl.item<float>()).Within(1e-5), "KL");
        Assert.That((logProbs.grad! - fast.Gradient).abs().max().item<float>(), Is.LessThan(1e-6), "gradient w.r.t. the log-probs");
    }
}
