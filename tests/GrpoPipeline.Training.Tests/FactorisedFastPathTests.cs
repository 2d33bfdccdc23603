using NUnit.Framework;
using static GrpoPipeline.Training.Tests.TestScalars;
using static TorchSharp.torch;

namespace GrpoPipeline.Training.Tests;

/// <summary>
/// <see cref="FactorisedFastPath"/>, the [B, L, V] form of the loss that factorised policies train with, held to the
/// definition <see cref="GrpoLoss.Compute"/>: the same values, metrics and gradients for every setting it supports.
/// </summary>
[TestFixture]
public sealed class FactorisedFastPathTests
{
    const long B = 3, L = 4, G = 6, V = 5;
    const double ClipLow = 0.1, ClipHigh = 0.2, DualClip = 1.3;

    /// <summary>A rollout of a factorised policy: logits (the leaf), π_old, π_ref, G responses per prompt, their deltas,
    /// and importance weights that depend on (b, l, v), as a factorised policy's π_old/π_behaviour does.</summary>
    sealed record Rollout(Tensor Logits, Tensor Old, Tensor Reference, Tensor Responses, Tensor Deltas, Tensor Weights);

    static Rollout Draw(int seed)
    {
        var generator = new Generator((ulong)seed);
        var logits = (randn([B, L, V], generator: generator) * K[0.5]).requires_grad_(true);
        using var _ = no_grad();
        var old = nn.functional.log_softmax(logits.detach().add(randn([B, L, V], generator: generator) * K[0.3], Scalars.One), -1);
        var reference = nn.functional.log_softmax(randn([B, L, V], generator: generator), -1);
        var responses = randint(0, V, [B, L, G], generator: generator, dtype: ScalarType.Int64);
        var deltas = randn([B, G], generator: generator);
        var weights = (rand([B, L, V], generator: generator) * K[2]).gather(2, responses);
        return new Rollout(logits, old, reference, responses, deltas, weights);
    }

    /// <summary>The definition's inputs for the same rollout: B·G responses of L tokens.</summary>
    static LossInputs Definition(Tensor logProbs, Rollout r, bool reference, bool exact, bool entropy, bool weighted)
    {
        Tensor PerResponse(Tensor t) => t.gather(2, r.Responses).permute(0, 2, 1).reshape(B * G, L);
        Tensor Full(Tensor t) => t.unsqueeze(1).expand(B, G, L, V).reshape(B * G, L, V);
        return new LossInputs(PerResponse(logProbs), PerResponse(r.Old), r.Deltas.reshape(B * G), ones(B * G, L))
        {
            RefLogp = reference ? PerResponse(r.Reference) : null,
            LogProbs = reference && exact ? Full(logProbs) : null,
            RefLogProbs = reference && exact ? Full(r.Reference) : null,
            Entropy = entropy ? GrpoMath.TokenEntropy(logProbs).unsqueeze(1).expand(B, G, L).reshape(B * G, L) : null,
            Weights = weighted ? r.Weights.permute(0, 2, 1).reshape(B * G, L) : null,
        };
    }

    /// <summary>The loss's values and the gradient of its Loss with respect to the logits, through the log-softmax.</summary>
    static (double[] Values, float[] Gradient) Run(Tensor logits, Func<Tensor, LossOutput> loss)
    {
        logits.grad?.zero_();
        var o = loss(nn.functional.log_softmax(logits, -1));
        o.Loss.backward();
        double[] values = [.. new[] { o.PolicyLoss, o.Kl, o.ClipLow, o.ClipHigh, o.ClipDual, o.ApproxKlOld }.Select(t => (double)t.item<float>())];
        return (values, logits.grad!.data<float>().ToArray());
    }

    static readonly string[] ValueNames = ["policy loss", "KL", "clip low share", "clip high share", "dual clip share", "approx_kl"];

    static IEnumerable<TestCaseData> Supported() =>
        from surrogate in new (LossMode Mode, double? Dual)[] { (LossMode.Naive, null), (LossMode.Unclipped, null), (LossMode.Clipped, null), (LossMode.Clipped, DualClip) }
        from estimator in new KlEstimator?[] { null, KlEstimator.K1, KlEstimator.K2, KlEstimator.K3, KlEstimator.Exact }
        from entropyCoef in new[] { 0, 0.05 }
        from weighted in new[] { false, true }
        select new TestCaseData(surrogate.Mode, surrogate.Dual, estimator, entropyCoef, weighted);

    [TestCaseSource(nameof(Supported))]
    public void Equals_The_Definition_In_Values_Metrics_And_Gradients(LossMode mode, double? dualClip, KlEstimator? estimator, double entropyCoef, bool weighted)
    {
        using var scope = NewDisposeScope();
        var r = Draw(seed: 4);
        var stats = TokenStatistics.Aggregate(r.Responses, r.Deltas, V, weighted ? r.Weights : null);
        // Every response has L tokens, so the three aggregations are one: the fast path must equal each.
        foreach (var aggregation in Enum.GetValues<LossAggregation>())
        {
            var o = new TokenLoss(mode, ClipLow, ClipHigh, aggregation, RatioLevel.Token, estimator ?? KlEstimator.K3, estimator is null ? 0 : 0.5, (int)L, dualClip, entropyCoef);
            Assert.That(FactorisedFastPath.Supports(o, L), Is.True);

            var fast = Run(r.Logits, lp => FactorisedFastPath.Objective(lp, r.Old, estimator is null ? null : r.Reference, stats, o));
            var definition = Run(r.Logits, lp => GrpoLoss.Compute(
                Definition(lp, r, estimator is not null, estimator == KlEstimator.Exact, entropyCoef > 0, weighted), o));

            for (int i = 0; i < ValueNames.Length; i++)
                Assert.That(fast.Values[i], Is.EqualTo(definition.Values[i]).Within(1e-5), $"{ValueNames[i]}, {aggregation}");
            Assert.That(fast.Gradient, Is.EqualTo(definition.Gradient).Within(1e-6), $"gradient w.r.t. the logits, {aggregation}");
            Assert.That(definition.Gradient.Max(MathF.Abs), Is.GreaterThan(1e-3f), "premise: the gradients compared are not zero");
        }
    }

    [Test]
    public void The_Rollout_Has_Ratios_Beyond_Both_Clip_Bounds_And_The_Dual_Clip()
    {
        using var scope = NewDisposeScope();
        var r = Draw(seed: 4);
        var o = new TokenLoss(LossMode.Clipped, ClipLow, ClipHigh, LossAggregation.TokenMean, RatioLevel.Token, KlEstimator.K3, 0, (int)L, DualClip);
        using var _ = no_grad();
        var d = GrpoLoss.Compute(Definition(nn.functional.log_softmax(r.Logits, -1), r, false, false, false, false), o);
        Assert.That(d.ClipLow.item<float>(), Is.GreaterThan(0.05f), "premise: the lower clip binds");
        Assert.That(d.ClipHigh.item<float>(), Is.GreaterThan(0.05f), "premise: the upper clip binds");
        Assert.That(d.ClipDual.item<float>(), Is.GreaterThan(0.01f), "premise: the dual clip binds");
    }

    [TestCase(RatioLevel.Sequence, LossMode.Clipped, 4, false)]     // a sequence ratio couples a response's positions
    [TestCase(RatioLevel.Token, LossMode.Cispo, 4, false)]          // not written in the fast path: the definition
    [TestCase(RatioLevel.Token, LossMode.Clipped, 5, true)]         // token_mean does not read the maximum length
    [TestCase(RatioLevel.Token, LossMode.Naive, 4, true)]
    public void Supports_What_Is_Exact_On_A_Factorised_Rollout(RatioLevel ratio, LossMode mode, int maxResponseLength, bool supported)
    {
        var o = new TokenLoss(mode, 0.2, 0.2, LossAggregation.TokenMean, ratio, KlEstimator.K3, 0, maxResponseLength);
        Assert.That(FactorisedFastPath.Supports(o, L), Is.EqualTo(supported));
    }

    [Test]
    public void The_Constant_Aggregation_Is_The_Token_Mean_Only_When_The_Maximum_Length_Is_The_Response_Length()
    {
        var o = new TokenLoss(LossMode.Clipped, 0.2, 0.2, LossAggregation.Constant, RatioLevel.Token, KlEstimator.K3, 0, (int)L);
        Assert.That(FactorisedFastPath.Supports(o, L), Is.True);
        Assert.That(FactorisedFastPath.Supports(o with { MaxResponseLength = (int)L + 1 }, L), Is.False);
        using var scope = NewDisposeScope();
        var r = Draw(seed: 1);
        var stats = TokenStatistics.Aggregate(r.Responses, r.Deltas, V);
        Assert.That(() => FactorisedFastPath.Objective(r.Logits.detach(), r.Old, null, stats, o with { MaxResponseLength = (int)L + 1 }),
            Throws.ArgumentException.With.Message.Contains("GrpoLoss.Compute"));
    }

    [Test]
    public void Aggregate_Sums_Deltas_And_Counts_Per_Position_And_Token()
    {
        using var scope = NewDisposeScope();
        // One prompt, one position, three responses: tokens 2, 2, 0 with deltas +1, -3, +2.
        var responses = tensor(new long[] { 2, 2, 0 }, [1, 1, 3]);
        var deltas = tensor(new float[] { 1, -3, 2 }, [1, 3]);
        var s = TokenStatistics.Aggregate(responses, deltas, vocab: 3);

        Assert.That(s.PositiveDeltas.data<float>().ToArray(), Is.EqualTo(new float[] { 2, 0, 1 }));
        Assert.That(s.NegativeDeltas.data<float>().ToArray(), Is.EqualTo(new float[] { 0, 0, -3 }));
        Assert.That(s.PositiveCounts.data<float>().ToArray(), Is.EqualTo(new float[] { 1, 0, 1 }));
        Assert.That(s.NegativeCounts.data<float>().ToArray(), Is.EqualTo(new float[] { 0, 0, 1 }));
        Assert.That(s.Counts.data<float>().ToArray(), Is.EqualTo(new float[] { 1, 0, 2 }));
        Assert.That((s.Tokens, s.Responses), Is.EqualTo((3L, 3L)));
    }

    [Test]
    public void Importance_Weights_Scale_Each_Sampled_Tokens_Delta()
    {
        using var scope = NewDisposeScope();
        // Tokens 2, 2, 0 with deltas +1, −3, +2 and weights 0.5, 2, 3: weighted deltas +0.5, −6, +6.
        var s = TokenStatistics.Aggregate(tensor(new long[] { 2, 2, 0 }, [1, 1, 3]), tensor(new float[] { 1, -3, 2 }, [1, 3]), vocab: 3,
            weights: tensor(new float[] { 0.5f, 2, 3 }, [1, 1, 3]));
        Assert.That(s.PositiveDeltas.data<float>().ToArray(), Is.EqualTo(new float[] { 6, 0, 0.5f }));
        Assert.That(s.NegativeDeltas.data<float>().ToArray(), Is.EqualTo(new float[] { 0, 0, -6 }));
        Assert.That(s.Counts.data<float>().ToArray(), Is.EqualTo(new float[] { 1, 0, 2 }), "the KL's counts are not weighted");
    }

    [Test]
    public void Closed_Form_Clipped_Gradient_Is_Zero_Where_The_Clip_Binds_And_Ratio_Times_Delta_Elsewhere()
    {
        using var scope = NewDisposeScope();
        // One position, tokens 0 and 1 sampled once each with deltas +1 and -1; token 2 unsampled.
        // Token 0: ratio e^0.5 ≈ 1.65 > 1.2 with a positive delta: the clip binds, gradient 0.
        // Token 1: ratio e^-0.05 ≈ 0.951 ≥ 0.9 with a negative delta: gradient −r·(−1)/T = 0.951/2.
        var logProbs = tensor(new float[] { -1.0f, -1.05f, -2f }, [1, 1, 3]).requires_grad_(true);
        var old = tensor(new float[] { -1.5f, -1.0f, -9f }, [1, 1, 3]);
        var stats = TokenStatistics.Aggregate(tensor(new long[] { 0, 1 }, [1, 1, 2]), tensor(new float[] { 1, -1 }, [1, 2]), vocab: 3);
        var o = new TokenLoss(LossMode.Clipped, 0.1, 0.2, LossAggregation.TokenMean, RatioLevel.Token, KlEstimator.K3, 0, 1);

        FactorisedFastPath.Objective(logProbs, old, null, stats, o).Loss.backward();

        Assert.That(logProbs.grad!.data<float>().ToArray(), Is.EqualTo(new[] { 0f, MathF.Exp(-0.05f) / 2, 0f }).Within(1e-6));
    }

    [TestCase(LossMode.Naive)]
    [TestCase(LossMode.Unclipped)]
    [TestCase(LossMode.Clipped)]
    public void Loss_Stays_Finite_When_An_Unsampled_Token_Moved_By_More_Than_88_Nats(LossMode mode)
    {
        using var scope = NewDisposeScope();
        // Token 1 is never sampled; its log-prob went from about -150 at the rollout to about -40 now: e^110 is inf in
        // float32. The reference gives it about 1/2, so e^(x_ref − x) is e^40 as well.
        var logits = tensor(new float[] { 0, -40 }, [1, 1, 2]).requires_grad_(true);
        var old = tensor(new float[] { 0, -150 }, [1, 1, 2]);
        var reference = tensor(new float[] { MathF.Log(0.5f), MathF.Log(0.5f) }, [1, 1, 2]);
        var s = TokenStatistics.Aggregate(tensor(new long[] { 0, 0 }, [1, 1, 2]), tensor(new float[] { 1, -1 }, [1, 2]), vocab: 2);
        var o = new TokenLoss(mode, 0.1, 0.1, LossAggregation.TokenMean, RatioLevel.Token, KlEstimator.K3, 0.5, 1);

        var objective = FactorisedFastPath.Objective(nn.functional.log_softmax(logits, -1), old, reference, s, o);
        objective.Loss.backward();

        Assert.That(new[] { objective.PolicyLoss, objective.Kl, objective.ApproxKlOld }.Select(t => t.item<float>()), Is.All.Matches<float>(float.IsFinite));
        Assert.That(logits.grad!.data<float>().ToArray(), Is.All.Matches<float>(float.IsFinite));
    }
}
