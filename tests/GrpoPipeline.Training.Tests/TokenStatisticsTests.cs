using GrpoPipeline.Training;
using NUnit.Framework;
using static GrpoPipeline.Training.Tests.TestScalars;
using static TorchSharp.torch;

namespace GrpoPipeline.Training.Tests;

/// <summary>
/// The trainer computes the loss from per-(b, l, v) sums of the rollout (<see cref="TokenStatistics"/>). These tests
/// hold it to the per-sample definitions: same values, same gradients.
/// </summary>
[TestFixture]
public sealed class TokenStatisticsTests
{
    const long B = 3, L = 4, G = 6, V = 5;

    static (Tensor Logits, Tensor LogProbsOld, Tensor RefLogProbs, Tensor Responses, Tensor Deltas) Rollout(int seed)
    {
        var generator = new Generator((ulong)seed);
        var logits = (randn([B, L, V], generator: generator) * K[0.5]).requires_grad_(true);
        using var _ = no_grad();
        var old = nn.functional.log_softmax(logits.detach().add(randn([B, L, V], generator: generator) * K[0.3], Scalars.One), -1);
        var reference = nn.functional.log_softmax(randn([B, L, V], generator: generator), -1);
        var responses = randint(0, V, [B, L, G], generator: generator, dtype: ScalarType.Int64);
        var deltas = randn([B, G], generator: generator);
        return (logits, old, reference, responses, deltas);
    }

    static (float Value, float[] Gradient) ValueAndGradient(Tensor logits, Func<Tensor, Tensor> loss)
    {
        logits.grad?.zero_();
        var value = loss(nn.functional.log_softmax(logits, -1));
        value.backward();
        return (value.item<float>(), logits.grad!.data<float>().ToArray());
    }

    [TestCase(LossMode.Naive)]
    [TestCase(LossMode.Unclipped)]
    [TestCase(LossMode.Clipped)]
    public void Aggregated_Policy_Loss_Equals_The_Per_Sample_Loss_In_Value_And_Gradient(LossMode mode)
    {
        using var scope = NewDisposeScope();
        var (logits, old, _, responses, deltas) = Rollout(seed: 1);
        var stats = GrpoMath.Aggregate(responses, deltas, V);
        var oldSampled = GrpoMath.Gather(old, responses);

        var perSample = ValueAndGradient(logits, lp => GrpoMath.PolicyLoss(GrpoMath.Gather(lp, responses), oldSampled, deltas, mode, 0.1, 0.2));
        var aggregated = ValueAndGradient(logits, lp => GrpoMath.PolicyLoss(lp, old, stats, mode, 0.1, 0.2));

        Assert.That(aggregated.Value, Is.EqualTo(perSample.Value).Within(1e-5));
        Assert.That(aggregated.Gradient, Is.EqualTo(perSample.Gradient).Within(1e-5));
        Assert.That(perSample.Gradient.Max(MathF.Abs), Is.GreaterThan(1e-3f), "the comparison is not between two zero gradients");
    }

    [Test]
    public void The_Rollout_Has_Ratios_Outside_The_Clip_Range_So_The_Clipped_Case_Is_Exercised()
    {
        using var scope = NewDisposeScope();
        var (logits, old, _, responses, deltas) = Rollout(seed: 1);
        using var _ = no_grad();
        var ratio = (GrpoMath.Gather(nn.functional.log_softmax(logits, -1), responses) - GrpoMath.Gather(old, responses)).exp();
        Assert.That(((ratio > K[1.2]) | (ratio < K[0.9])).sum().item<long>(), Is.GreaterThan(5));
    }

    [TestCase(KlEstimator.K1)]
    [TestCase(KlEstimator.K2)]
    [TestCase(KlEstimator.K3)]
    public void Aggregated_Sampled_Kl_Equals_The_Per_Sample_Estimate_In_Value_And_Gradient(KlEstimator estimator)
    {
        using var scope = NewDisposeScope();
        var (logits, _, reference, responses, deltas) = Rollout(seed: 2);
        var stats = GrpoMath.Aggregate(responses, deltas, V);
        var refSampled = GrpoMath.Gather(reference, responses);

        var perSample = ValueAndGradient(logits, lp => GrpoMath.SampledKl(GrpoMath.Gather(lp, responses), refSampled, estimator));
        var aggregated = ValueAndGradient(logits, lp => GrpoMath.SampledKl(lp, reference, stats, estimator));

        Assert.That(aggregated.Value, Is.EqualTo(perSample.Value).Within(1e-5));
        Assert.That(aggregated.Gradient, Is.EqualTo(perSample.Gradient).Within(1e-5));
    }

    static IEnumerable<TestCaseData> ObjectiveCases()
    {
        foreach (var mode in new[] { LossMode.Naive, LossMode.Unclipped, LossMode.Clipped })
        {
            yield return new TestCaseData(mode, null, 0.0);
            foreach (var estimator in new[] { KlEstimator.K1, KlEstimator.K2, KlEstimator.K3, KlEstimator.Exact })
                yield return new TestCaseData(mode, estimator, 0.5);
        }
    }

    /// <summary>
    /// The trainer backpropagates (log-probs · Gradient).sum(): its gradient must be autograd's gradient of
    /// PolicyLoss + β·KL, through the log-softmax down to the logits, and the values must be the definitions'.
    /// </summary>
    [TestCaseSource(nameof(ObjectiveCases))]
    public void Closed_Form_Objective_Gradient_Equals_Autograd_Through_The_Loss(LossMode mode, KlEstimator? estimator, double klCoef)
    {
        using var scope = NewDisposeScope();
        var (logits, old, reference, responses, deltas) = Rollout(seed: 4);
        var stats = GrpoMath.Aggregate(responses, deltas, V);
        Tensor Kl(Tensor lp) => estimator == KlEstimator.Exact
            ? GrpoMath.ExactKl(lp, reference)
            : GrpoMath.SampledKl(lp, reference, stats, estimator!.Value);

        var autograd = ValueAndGradient(logits, lp =>
        {
            var policy = GrpoMath.PolicyLoss(lp, old, stats, mode, 0.1, 0.2);
            return estimator is null ? policy : policy.add(Kl(lp) * K[klCoef], Scalars.One);
        });
        var closedForm = ValueAndGradient(logits, lp =>
        {
            var objective = GrpoMath.LossAndGradient(lp.detach(), old, estimator is null ? null : reference, stats,
                mode, 0.1, 0.2, estimator ?? KlEstimator.K3, klCoef);
            using (no_grad())
            {
                Assert.That(objective.PolicyLoss.item<float>(), Is.EqualTo(GrpoMath.PolicyLoss(lp, old, stats, mode, 0.1, 0.2).item<float>()).Within(1e-6));
                Assert.That(objective.Kl.item<float>(), Is.EqualTo(estimator is null ? 0f : Kl(lp).item<float>()).Within(1e-6));
            }
            return (lp * objective.Gradient).sum();
        });

        Assert.That(closedForm.Gradient, Is.EqualTo(autograd.Gradient).Within(1e-5));
        Assert.That(autograd.Gradient.Max(MathF.Abs), Is.GreaterThan(1e-3f), "the comparison is not between two zero gradients");
    }

    [Test]
    public void Closed_Form_Clipped_Gradient_Is_Zero_Where_The_Clip_Binds_And_Ratio_Times_Delta_Elsewhere()
    {
        using var scope = NewDisposeScope();
        // One position, tokens 0 and 1 sampled once each with deltas +1 and -1; token 2 unsampled.
        // Token 0: ratio e^0.5 ≈ 1.65 > 1.2 with a positive delta: the clip binds, gradient 0.
        // Token 1: ratio e^-0.05 ≈ 0.951 ≥ 0.9 with a negative delta: gradient −r·(−1)/T = 0.951/2.
        var logProbs = tensor(new float[] { -1.0f, -1.05f, -2f }, [1, 1, 3]);
        var old = tensor(new float[] { -1.5f, -1.0f, -9f }, [1, 1, 3]);
        var stats = GrpoMath.Aggregate(tensor(new long[] { 0, 1 }, [1, 1, 2]), tensor(new float[] { 1, -1 }, [1, 2]), vocab: 3);

        var gradient = GrpoMath.LossAndGradient(logProbs, old, null, stats, LossMode.Clipped, 0.1, 0.2, KlEstimator.K3, 0).Gradient;

        Assert.That(gradient.data<float>().ToArray(), Is.EqualTo(new[] { 0f, MathF.Exp(-0.05f) / 2, 0f }).Within(1e-6));
    }

    [Test]
    public void Aggregated_Clip_Fractions_Equal_The_Per_Sample_Fractions()
    {
        using var scope = NewDisposeScope();
        var (logits, old, _, responses, deltas) = Rollout(seed: 3);
        var stats = GrpoMath.Aggregate(responses, deltas, V);
        using var _ = no_grad();
        var logProbs = nn.functional.log_softmax(logits, -1);
        var (low, high) = GrpoMath.ClipFractions(GrpoMath.Gather(logProbs, responses), GrpoMath.Gather(old, responses), deltas, 0.1, 0.1);
        var (aggLow, aggHigh) = GrpoMath.ClipFractions(logProbs, old, stats, 0.1, 0.1);

        Assert.That(aggLow.item<float>(), Is.EqualTo(low.item<float>()).Within(1e-6));
        Assert.That(aggHigh.item<float>(), Is.EqualTo(high.item<float>()).Within(1e-6));
        Assert.That(low.item<float>() + high.item<float>(), Is.GreaterThan(0f), "some clips bind in this rollout");
    }

    [Test]
    public void Aggregate_Sums_Deltas_And_Counts_Per_Position_And_Token()
    {
        using var scope = NewDisposeScope();
        // One prompt, one position, three responses: tokens 2, 2, 0 with deltas +1, -3, +2.
        var responses = tensor(new long[] { 2, 2, 0 }, [1, 1, 3]);
        var deltas = tensor(new float[] { 1, -3, 2 }, [1, 3]);
        var s = GrpoMath.Aggregate(responses, deltas, vocab: 3);

        Assert.That(s.PositiveDeltas.data<float>().ToArray(), Is.EqualTo(new float[] { 2, 0, 1 }));
        Assert.That(s.NegativeDeltas.data<float>().ToArray(), Is.EqualTo(new float[] { 0, 0, -3 }));
        Assert.That(s.PositiveCounts.data<float>().ToArray(), Is.EqualTo(new float[] { 1, 0, 1 }));
        Assert.That(s.NegativeCounts.data<float>().ToArray(), Is.EqualTo(new float[] { 0, 0, 1 }));
        Assert.That(s.Counts.data<float>().ToArray(), Is.EqualTo(new float[] { 1, 0, 2 }));
        Assert.That((s.Tokens, s.Responses), Is.EqualTo((3L, 3L)));
    }

    [Test]
    public void Sampled_Kl_Stays_Finite_When_An_Unsampled_Token_Has_A_Huge_Reference_Ratio()
    {
        using var scope = NewDisposeScope();
        // Token 1 is never sampled; the policy gives it e^-200 while the reference gives it about 1/2.
        var logits = tensor(new float[] { 0, -200 }, [1, 1, 2]).requires_grad_(true);
        var reference = tensor(new float[] { MathF.Log(0.5f), MathF.Log(0.5f) }, [1, 1, 2]);
        var s = GrpoMath.Aggregate(tensor(new long[] { 0, 0 }, [1, 1, 2]), tensor(new float[] { 1, -1 }, [1, 2]), vocab: 2);

        var kl = GrpoMath.SampledKl(nn.functional.log_softmax(logits, -1), reference, s, KlEstimator.K3);
        kl.backward();
        Assert.That(float.IsFinite(kl.item<float>()), Is.True);
        Assert.That(logits.grad!.data<float>().ToArray(), Is.All.Matches<float>(float.IsFinite));
    }

    [TestCase(LossMode.Naive)]
    [TestCase(LossMode.Unclipped)]
    [TestCase(LossMode.Clipped)]
    public void Policy_Loss_Stays_Finite_When_An_Unsampled_Token_Moved_By_More_Than_88_Nats(LossMode mode)
    {
        using var scope = NewDisposeScope();
        // Token 1 is never sampled; its log-prob went from about -150 at the rollout to about -40 now: e^110 is inf in float32.
        var logits = tensor(new float[] { 0, -40 }, [1, 1, 2]).requires_grad_(true);
        var old = tensor(new float[] { 0, -150 }, [1, 1, 2]);
        var s = GrpoMath.Aggregate(tensor(new long[] { 0, 0 }, [1, 1, 2]), tensor(new float[] { 1, -1 }, [1, 2]), vocab: 2);

        var loss = GrpoMath.PolicyLoss(nn.functional.log_softmax(logits, -1), old, s, mode, 0.1, 0.1);
        loss.backward();
        Assert.That(float.IsFinite(loss.item<float>()), Is.True);
        Assert.That(logits.grad!.data<float>().ToArray(), Is.All.Matches<float>(float.IsFinite));
    }
}
