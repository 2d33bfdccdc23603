using NUnit.Framework;
using TorchSharp;
using static GrpoPipeline.Training.Tests.TestScalars;
using static TorchSharp.torch;

namespace GrpoPipeline.Training.Tests;

/// <summary>Small tensor builders and readers for the hand-computed examples below.</summary>
file static class T
{
    public static Tensor Of(float[] values, params long[] shape) => tensor(values, shape);

    public static Tensor Leaf(float[] values, params long[] shape) => tensor(values, shape, requires_grad: true);

    public static float[] Values(Tensor t) => t.data<float>().ToArray();

    /// <summary>Unbiased (n − 1) standard deviation, written out so it does not lean on torch.</summary>
    public static double UnbiasedStd(IReadOnlyList<double> xs)
    {
        double mean = xs.Average();
        return Math.Sqrt(xs.Sum(x => (x - mean) * (x - mean)) / (xs.Count - 1));
    }
}

/// <summary>GrpoMath.Deltas in each mode, and the lecture's §3.3 / §4.2 baseline examples.</summary>
[TestFixture]
public sealed class GrpoMathDeltasTests
{
    const double Eps = 1e-5;   // the lecture's denominator epsilon, §4.2

    [Test]
    public void Centered_Deltas_Are_Zero_When_Group_Rewards_Are_Equal()
    {
        using var scope = NewDisposeScope();
        var rewards = T.Of([2, 2, 2, 2, 0.5f, 0.5f, 0.5f, 0.5f], 2, 4);

        var deltas = GrpoMath.Deltas(rewards, DeltasMode.Centered);

        Assert.That(deltas.shape, Is.EqualTo(new long[] { 2, 4 }));
        Assert.That(T.Values(deltas), Is.All.EqualTo(0f));
    }

    [Test]
    public void Centered_Deltas_Subtract_The_Group_Mean()
    {
        using var scope = NewDisposeScope();
        // Group means 3 and 0.5.
        var rewards = T.Of([1, 2, 3, 6, 0, 0, 1, 1], 2, 4);

        var deltas = GrpoMath.Deltas(rewards, DeltasMode.Centered);

        Assert.That(T.Values(deltas), Is.EqualTo(new float[] { -2, -1, 0, 3, -0.5f, -0.5f, 0.5f, 0.5f }).Within(1e-6));
    }

    [Test]
    public void Normalized_Deltas_Have_Zero_Mean_And_Unit_Unbiased_Std_Per_Group()
    {
        using var scope = NewDisposeScope();
        var rewards = T.Of([1, 2, 3, 6, 0, 0, 1, 1], 2, 4);

        var deltas = T.Values(GrpoMath.Deltas(rewards, DeltasMode.Normalized));

        for (int b = 0; b < 2; b++)
        {
            var group = deltas.Skip(4 * b).Take(4).Select(x => (double)x).ToList();
            Assert.That(group.Average(), Is.EqualTo(0).Within(1e-6), $"mean of group {b}");
            // std/(std + 1e-5) is 1 − 1.7e-5 for the second group (std √(1/3)), hence the tolerance.
            Assert.That(T.UnbiasedStd(group), Is.EqualTo(1).Within(1e-4), $"std of group {b}");
        }
    }

    [Test]
    public void Normalized_Deltas_Divide_By_Unbiased_Std_Plus_Epsilon()
    {
        using var scope = NewDisposeScope();
        var rewards = T.Of([1, 2, 3, 6, 0, 0, 1, 1], 2, 4);
        // Group 0: centered [-2,-1,0,3], Σ squares 14, unbiased std √(14/3).
        // Group 1: centered [-.5,-.5,.5,.5], Σ squares 1, unbiased std √(1/3).
        double s0 = Math.Sqrt(14.0 / 3) + Eps, s1 = Math.Sqrt(1.0 / 3) + Eps;
        var expected = new[] { -2 / s0, -1 / s0, 0, 3 / s0, -0.5 / s1, -0.5 / s1, 0.5 / s1, 0.5 / s1 };

        var deltas = GrpoMath.Deltas(rewards, DeltasMode.Normalized);

        Assert.That(T.Values(deltas), Is.EqualTo(expected).Within(1e-5));
    }

    [Test]
    public void Normalized_Deltas_Are_Zero_Not_NaN_When_Group_Rewards_Are_Equal()
    {
        using var scope = NewDisposeScope();
        var rewards = T.Of([1, 1, 1, 1], 1, 4);

        var deltas = GrpoMath.Deltas(rewards, DeltasMode.Normalized);

        Assert.That(T.Values(deltas), Is.All.EqualTo(0f));
    }

    [Test]
    public void Max_Deltas_Keep_Only_The_Group_Maximum()
    {
        using var scope = NewDisposeScope();
        var rewards = T.Of([1, 3, 3, 2, 5, 0, 4, 4], 2, 4);

        var deltas = GrpoMath.Deltas(rewards, DeltasMode.Max);

        Assert.That(T.Values(deltas), Is.EqualTo(new float[] { 0, 3, 3, 0, 5, 0, 0, 0 }));
    }

    [Test]
    public void Batch_Normalized_Deltas_Divide_Centered_Deltas_By_The_Batch_Std()
    {
        using var scope = NewDisposeScope();
        var rewards = T.Of([1, 2, 3, 6, 0, 0, 1, 1], 2, 4);
        // All 8 rewards: mean 14/8 = 1.75; Σ (r − 1.75)² = .5625 + .0625 + 1.5625 + 18.0625 + 2·3.0625 + 2·.5625
        // = 27.5, so the unbiased std is √(27.5/7). Centered deltas use the group means 3 and 0.5.
        double s = Math.Sqrt(27.5 / 7) + Eps;
        var expected = new[] { -2 / s, -1 / s, 0, 3 / s, -0.5 / s, -0.5 / s, 0.5 / s, 0.5 / s };

        var deltas = GrpoMath.Deltas(rewards, DeltasMode.BatchNormalized);

        Assert.That(T.Values(deltas), Is.EqualTo(expected).Within(1e-5));
    }

    [Test]
    public void Rewards_Deltas_Are_A_Fresh_Copy_Of_The_Rewards()
    {
        using var scope = NewDisposeScope();
        var values = new float[] { 1, -2, 3.5f, 0 };
        var rewards = T.Of(values, 2, 2);

        var deltas = GrpoMath.Deltas(rewards, DeltasMode.Rewards);
        deltas.add_(K[100], Scalars.One);   // must not write through to the caller's rewards

        Assert.That(T.Values(deltas), Is.EqualTo(values.Select(v => v + 100).ToArray()));
        Assert.That(T.Values(rewards), Is.EqualTo(values));
    }

    [Test]
    public void Lecture_Baseline_Lowers_The_Variance_Of_The_Rewards()
    {
        using var scope = NewDisposeScope();
        // §3.3: rewards 11, 9 in s1 and 0, 2 in s2, with b(s1) = 10 and b(s2) = 1.
        var raw = T.Of([11, 9, 0, 2], 4);
        var baselined = raw - T.Of([10, 10, 1, 1], 4);
        Assert.That(T.Values(baselined), Is.EqualTo(new float[] { 1, -1, -1, 1 }));

        double rawVar = raw.var().item<float>();
        double baselinedVar = baselined.var().item<float>();

        // Unbiased: raw mean 5.5, Σ squares 30.25 + 12.25 + 30.25 + 12.25 = 85, so 85/3 ≈ 28.3
        // (the lecture's comment says "about 22.7"; neither the biased 21.25 nor the unbiased value is that).
        Assert.That(rawVar, Is.EqualTo(85.0 / 3).Within(1e-4));
        Assert.That(baselinedVar, Is.EqualTo(4.0 / 3).Within(1e-6));
        Assert.That(baselinedVar, Is.LessThan(rawVar));
    }

    [Test]
    public void Centered_Deltas_Reproduce_The_Lecture_Baseline_With_Group_Means()
    {
        using var scope = NewDisposeScope();
        // The group means 10 and 1 are exactly the lecture's hand-picked baselines b(s1), b(s2).
        var rewards = T.Of([11, 9, 0, 2], 2, 2);

        var deltas = GrpoMath.Deltas(rewards, DeltasMode.Centered);

        Assert.That(T.Values(deltas), Is.EqualTo(new float[] { 1, -1, -1, 1 }));
    }
}

/// <summary>
/// Lecture §6.1: the old policy must be a constant. Differentiating p/p_old with both sides live cancels the
/// gradient exactly, which is why our ratio is exp(logp − logp_old) with logp_old detached.
/// </summary>
[TestFixture]
public sealed class GrpoMathRatioGradientTests
{
    static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    [Test]
    public void Ratio_Gradient_Is_Nonzero_When_P_Old_Is_Computed_Under_No_Grad()
    {
        using var scope = NewDisposeScope();
        var w = tensor(2f, requires_grad: true);
        var p = w.sigmoid();
        Tensor pOld;
        using (no_grad()) pOld = w.sigmoid();

        (p / pOld).backward();

        // d(σ(w)/c)/dw at c = σ(w) is σ'(w)/σ(w) = 1 − σ(w).
        double expected = 1 - Sigmoid(2);
        Assert.That(pOld.requires_grad, Is.False);
        Assert.That(w.grad!.item<float>(), Is.EqualTo(expected).Within(1e-6));
        Assert.That(w.grad!.item<float>(), Is.Not.EqualTo(0f));
    }

    [Test]
    public void Ratio_Gradient_Cancels_To_Zero_When_P_Old_Also_Carries_Gradient()
    {
        using var scope = NewDisposeScope();
        var w = tensor(2f, requires_grad: true);
        var p = w.sigmoid();
        var pOld = w.sigmoid();   // the lecture's mistake: also a function of w

        (p / pOld).backward();

        // σ'/σ − σ·σ'/σ² = 0.
        Assert.That(w.grad!.item<float>(), Is.EqualTo(0f));
    }

    [Test]
    public void Exp_Of_Logp_Minus_Detached_Old_Has_Gradient_Dlogp_At_Equal_Log_Probs()
    {
        using var scope = NewDisposeScope();
        var w = tensor(0.7f, requires_grad: true);
        var logp = nn.functional.logsigmoid(w);

        (logp - logp.detach()).exp().backward();

        // exp(0) · d log σ(w)/dw = 1 − σ(w).
        Assert.That(w.grad!.item<float>(), Is.EqualTo(1 - Sigmoid(0.7)).Within(1e-6));
    }

    [Test]
    public void Exp_Of_Logp_Minus_Itself_Has_Zero_Gradient()
    {
        using var scope = NewDisposeScope();
        var w = tensor(0.7f, requires_grad: true);
        var logp = nn.functional.logsigmoid(w);

        (logp - logp).exp().backward();

        Assert.That(w.grad!.item<float>(), Is.EqualTo(0f));
    }
}

/// <summary>GrpoMath.PolicyLoss: naive, unclipped and PPO-clipped surrogates on [B=1, L=2, G=2] hand examples.</summary>
[TestFixture]
public sealed class GrpoMathPolicyLossTests
{
    // Layout [B, L, G]: values are (pos0: g0, g1), (pos1: g0, g1).
    static readonly float[] Logp = [-1f, -2f, -0.5f, -3f];

    [Test]
    public void Naive_Loss_Is_Minus_The_Mean_Of_Delta_Times_Logp()
    {
        using var scope = NewDisposeScope();
        var logp = T.Of(Logp, 1, 2, 2);
        var deltas = T.Of([2, -1], 1, 2);
        // δ·logp: -1·2 = -2, -2·-1 = 2, -0.5·2 = -1, -3·-1 = 3; sum 2, mean 0.5.

        var loss = GrpoMath.PolicyLoss(logp, logp, deltas, LossMode.Naive, 0.1, 0.1);

        Assert.That(loss.item<float>(), Is.EqualTo(-0.5).Within(1e-6));
    }

    [Test]
    public void Naive_Loss_Gradient_Is_Minus_Delta_Over_Token_Count()
    {
        using var scope = NewDisposeScope();
        var logp = T.Leaf(Logp, 1, 2, 2);
        var deltas = T.Of([2, -1], 1, 2);

        GrpoMath.PolicyLoss(logp, logp.detach(), deltas, LossMode.Naive, 0.1, 0.1).backward();

        Assert.That(T.Values(logp.grad!), Is.EqualTo(new[] { -0.5, 0.25, -0.5, 0.25 }).Within(1e-6));
    }

    [Test]
    public void Unclipped_Loss_Is_Minus_The_Mean_Of_Ratio_Times_Delta()
    {
        using var scope = NewDisposeScope();
        float[] diff = [0.3f, -0.2f, 0.05f, 1.0f];   // logp − logp_old
        var logpOld = T.Of(Logp, 1, 2, 2);
        var logp = T.Of(Logp.Zip(diff, (a, b) => a + b).ToArray(), 1, 2, 2);
        double[] d = [2, -1];
        var deltas = T.Of([2, -1], 1, 2);
        double expected = -(Math.Exp(0.3) * d[0] + Math.Exp(-0.2) * d[1] + Math.Exp(0.05) * d[0] + Math.Exp(1.0) * d[1]) / 4;

        var loss = GrpoMath.PolicyLoss(logp, logpOld, deltas, LossMode.Unclipped, 0.1, 0.1);

        Assert.That(loss.item<float>(), Is.EqualTo(expected).Within(1e-5));
    }

    [Test]
    public void Clipped_Loss_Equals_Unclipped_When_Every_Ratio_Is_Inside_The_Clip_Range()
    {
        using var scope = NewDisposeScope();
        float[] diff = [0.05f, -0.05f, 0.08f, -0.09f];   // ratios 0.914..1.083, inside [0.9, 1.1]
        var logpOld = T.Of(Logp, 1, 2, 2);
        var logp = T.Of(Logp.Zip(diff, (a, b) => a + b).ToArray(), 1, 2, 2);
        var deltas = T.Of([1.5f, -0.5f], 1, 2);
        double expected = -(Math.Exp(0.05) * 1.5 + Math.Exp(-0.05) * -0.5 + Math.Exp(0.08) * 1.5 + Math.Exp(-0.09) * -0.5) / 4;

        var loss = GrpoMath.PolicyLoss(logp, logpOld, deltas, LossMode.Clipped, 0.1, 0.1);

        Assert.That(loss.item<float>(), Is.EqualTo(expected).Within(1e-5));
    }

    [Test]
    public void Clipped_Loss_Has_Zero_Gradient_Where_The_Clip_Binds_And_Nonzero_Elsewhere()
    {
        using var scope = NewDisposeScope();
        // δ = [+1, −1] for g0, g1. Tokens:
        //   (pos0, g0): ratio e^0.3 ≈ 1.35 > 1.1, δ > 0  → clip binds
        //   (pos0, g1): ratio e^−0.3 ≈ 0.74 < 0.9, δ < 0 → clip binds
        //   (pos1, g0): ratio e^−0.3, δ > 0 → min picks the unclipped term
        //   (pos1, g1): ratio e^0.3, δ < 0  → min picks the unclipped term
        var logpOld = T.Of(Logp, 1, 2, 2);
        var logp = T.Leaf(Logp.Zip(new[] { 0.3f, -0.3f, -0.3f, 0.3f }, (a, b) => a + b).ToArray(), 1, 2, 2);
        var deltas = T.Of([1, -1], 1, 2);

        GrpoMath.PolicyLoss(logp, logpOld, deltas, LossMode.Clipped, 0.1, 0.1).backward();

        // Unclipped tokens: d(−r·δ/4)/dlogp = −r·δ/4.
        var expected = new[] { 0, 0, -Math.Exp(-0.3) * 1 / 4, -Math.Exp(0.3) * -1 / 4 };
        var grad = T.Values(logp.grad!);
        Assert.That(grad, Is.EqualTo(expected).Within(1e-6));
        Assert.That(grad[2], Is.Not.EqualTo(0f));
        Assert.That(grad[3], Is.Not.EqualTo(0f));
    }

    [Test]
    public void Clipped_Loss_Uses_Clip_High_Above_One_And_Clip_Low_Below_One()
    {
        using var scope = NewDisposeScope();
        // One position, two responses: ratio e^0.3 ≈ 1.350 with δ = +1, ratio e^−0.3 ≈ 0.741 with δ = −1.
        var logpOld = T.Of([-1f, -1f], 1, 1, 2);
        var logp = T.Of([-0.7f, -1.3f], 1, 1, 2);
        var deltas = T.Of([1, -1], 1, 2);
        double up = Math.Exp(0.3), down = Math.Exp(-0.3);

        // ε_low = 0.2, ε_high = 0.5: 1.35 < 1.5 stays, 0.741 < 0.8 is clipped to 0.8 (min(−0.741, −0.8) = −0.8).
        var wideHigh = GrpoMath.PolicyLoss(logp, logpOld, deltas, LossMode.Clipped, clipLow: 0.2, clipHigh: 0.5);
        // ε_low = 0.5, ε_high = 0.2: 1.35 is clipped to 1.2, 0.741 > 0.5 stays.
        var wideLow = GrpoMath.PolicyLoss(logp, logpOld, deltas, LossMode.Clipped, clipLow: 0.5, clipHigh: 0.2);

        Assert.That(wideHigh.item<float>(), Is.EqualTo(-(up * 1 + 0.8 * -1) / 2).Within(1e-6));
        Assert.That(wideLow.item<float>(), Is.EqualTo(-(1.2 * 1 + down * -1) / 2).Within(1e-6));
    }

    [Test]
    public void Clipped_Loss_Gradient_Follows_The_Asymmetric_Clip_Range()
    {
        using var scope = NewDisposeScope();
        var logpOld = T.Of([-1f, -1f], 1, 1, 2);
        var logp = T.Leaf([-0.7f, -1.3f], 1, 1, 2);
        var deltas = T.Of([1, -1], 1, 2);

        // ε_high = 0.5 lets ratio 1.35 (δ > 0) through; ε_low = 0.2 clips ratio 0.741 (δ < 0).
        GrpoMath.PolicyLoss(logp, logpOld, deltas, LossMode.Clipped, clipLow: 0.2, clipHigh: 0.5).backward();

        Assert.That(T.Values(logp.grad!), Is.EqualTo(new[] { -Math.Exp(0.3) / 2, 0 }).Within(1e-6));
    }
}

/// <summary>GrpoMath.ClipFractions: the share of tokens where each side of the clip binds.</summary>
[TestFixture]
public sealed class GrpoMathClipFractionsTests
{
    [Test]
    public void Clip_Fractions_Count_Binding_Tokens_On_Each_Side()
    {
        using var scope = NewDisposeScope();
        // [B=1, L=2, G=3], δ = [+1, −1, 0]; logp − logp_old:
        //   pos0: +0.3 (1.35, δ>0: high), −0.3 (0.74, δ<0: low), +0.3 (δ = 0: neither)
        //   pos1: +0.3 (1.35, δ>0: high),  0.0 (1.00: neither),  −0.3 (δ = 0: neither)
        var logpOld = zeros(1, 2, 3);
        var logp = T.Of([0.3f, -0.3f, 0.3f, 0.3f, 0f, -0.3f], 1, 2, 3);
        var deltas = T.Of([1, -1, 0], 1, 3);

        var (low, high) = GrpoMath.ClipFractions(logp, logpOld, deltas, 0.1, 0.1);

        Assert.That(low.item<float>(), Is.EqualTo(1.0 / 6).Within(1e-6));
        Assert.That(high.item<float>(), Is.EqualTo(2.0 / 6).Within(1e-6));
    }

    [Test]
    public void Clip_Fractions_Ignore_Ratios_On_The_Harmless_Side()
    {
        using var scope = NewDisposeScope();
        // Ratio 0.74 with δ > 0 and ratio 1.35 with δ < 0: the min takes the unclipped term, nothing binds.
        var logpOld = zeros(1, 1, 2);
        var logp = T.Of([-0.3f, 0.3f], 1, 1, 2);
        var deltas = T.Of([1, -1], 1, 2);

        var (low, high) = GrpoMath.ClipFractions(logp, logpOld, deltas, 0.1, 0.1);

        Assert.That(low.item<float>(), Is.EqualTo(0f));
        Assert.That(high.item<float>(), Is.EqualTo(0f));
    }

    [Test]
    public void Clip_Fractions_Honour_Asymmetric_Ranges()
    {
        using var scope = NewDisposeScope();
        var logpOld = zeros(1, 1, 2);
        var logp = T.Of([0.3f, -0.3f], 1, 1, 2);   // 1.35 with δ>0, 0.74 with δ<0
        var deltas = T.Of([1, -1], 1, 2);

        // ε_high = 0.5: 1.35 does not bind; ε_low = 0.2: 0.74 < 0.8 binds.
        var (low, high) = GrpoMath.ClipFractions(logp, logpOld, deltas, clipLow: 0.2, clipHigh: 0.5);

        Assert.That(low.item<float>(), Is.EqualTo(0.5).Within(1e-6));
        Assert.That(high.item<float>(), Is.EqualTo(0f));
    }
}

/// <summary>GrpoMath.SampledKl (k1, k2, k3; Schulman 2020) and GrpoMath.ExactKl.</summary>
[TestFixture]
public sealed class GrpoMathKlTests
{
    // [B=1, L=2, G=2]; log(π_ref/π) = ref − logp = (pos0: −0.5, 1), (pos1: 0, −1).
    static readonly float[] Logp = [-1f, -2f, -0.5f, -1.5f];
    static readonly float[] RefLogp = [-1.5f, -1f, -0.5f, -2.5f];

    [Test]
    public void K3_Is_Nonnegative_For_Every_Single_Token()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(17);
        var logp = (randn(new long[] { 500 }, generator: g) * K[3]).data<float>().ToArray();
        var refLogp = (randn(new long[] { 500 }, generator: g) * K[3]).data<float>().ToArray();

        for (int i = 0; i < logp.Length; i++)
        {
            using var inner = NewDisposeScope();
            var k3 = GrpoMath.SampledKl(T.Of([logp[i]], 1, 1, 1), T.Of([refLogp[i]], 1, 1, 1), KlEstimator.K3).item<float>();
            Assert.That(k3, Is.GreaterThanOrEqualTo(0f), $"token {i}: logp {logp[i]}, ref {refLogp[i]}");
        }
    }

    [Test]
    public void K3_Is_Nonnegative_For_Random_Batches()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(23);
        for (int i = 0; i < 20; i++)
        {
            var logp = randn(new long[] { 3, 5, 4 }, generator: g) * K[2];
            var refLogp = randn(new long[] { 3, 5, 4 }, generator: g) * K[2];
            Assert.That(GrpoMath.SampledKl(logp, refLogp, KlEstimator.K3).item<float>(), Is.GreaterThanOrEqualTo(0f));
        }
    }

    [Test]
    public void K3_Is_Zero_When_Policy_Equals_Reference()
    {
        using var scope = NewDisposeScope();
        var logp = T.Of(Logp, 1, 2, 2);

        Assert.That(GrpoMath.SampledKl(logp, logp, KlEstimator.K3).item<float>(), Is.EqualTo(0f));
    }

    [Test]
    public void K1_Sums_Log_Ratio_Over_Positions_And_Averages_Over_Responses()
    {
        using var scope = NewDisposeScope();
        // k1 = logp − ref: (0.5, −1), (0, 1). Sums over positions: g0 0.5, g1 0. Mean 0.25.
        var kl = GrpoMath.SampledKl(T.Of(Logp, 1, 2, 2), T.Of(RefLogp, 1, 2, 2), KlEstimator.K1);

        Assert.That(kl.item<float>(), Is.EqualTo(0.25).Within(1e-6));
    }

    [Test]
    public void K2_Is_Half_The_Squared_Log_Ratio()
    {
        using var scope = NewDisposeScope();
        // k2 = ½ r²: (0.125, 0.5), (0, 0.5). Sums: g0 0.125, g1 1. Mean 0.5625.
        var kl = GrpoMath.SampledKl(T.Of(Logp, 1, 2, 2), T.Of(RefLogp, 1, 2, 2), KlEstimator.K2);

        Assert.That(kl.item<float>(), Is.EqualTo(0.5625).Within(1e-6));
    }

    [Test]
    public void K3_Is_Exp_Minus_Log_Ratio_Minus_One()
    {
        using var scope = NewDisposeScope();
        // k3 = e^r − r − 1 with r = log(π_ref/π): (e^−0.5 − 0.5, e − 2), (0, e^−1).
        double g0 = Math.Exp(-0.5) - 0.5 + 0;
        double g1 = (Math.E - 2) + Math.Exp(-1);
        var kl = GrpoMath.SampledKl(T.Of(Logp, 1, 2, 2), T.Of(RefLogp, 1, 2, 2), KlEstimator.K3);

        Assert.That(kl.item<float>(), Is.EqualTo((g0 + g1) / 2).Within(1e-6));
    }

    [Test]
    public void Sampled_Kl_Sums_Over_Positions_And_Averages_Over_Prompts()
    {
        using var scope = NewDisposeScope();
        // [B=2, L=3, G=1] with k1 per token = logp − ref = b + 1 + pos (b = 0, 1; pos = 0..2):
        // prompt 0 sums 1 + 2 + 3 = 6, prompt 1 sums 2 + 3 + 4 = 9, mean 7.5.
        var refLogp = zeros(2, 3, 1);
        var logp = T.Of([1, 2, 3, 2, 3, 4], 2, 3, 1);

        var kl = GrpoMath.SampledKl(logp, refLogp, KlEstimator.K1);

        Assert.That(kl.item<float>(), Is.EqualTo(7.5).Within(1e-6));
    }

    [Test]
    public void Exact_Kl_Matches_A_Hand_Computed_Two_Token_Sum()
    {
        using var scope = NewDisposeScope();
        // π = (0.25, 0.75), π_ref = (0.5, 0.5): KL = 0.25 ln(0.5) + 0.75 ln(1.5) ≈ 0.1308.
        var logp = T.Of([(float)Math.Log(0.25), (float)Math.Log(0.75)], 1, 1, 2);
        var refLogp = T.Of([(float)Math.Log(0.5), (float)Math.Log(0.5)], 1, 1, 2);
        double expected = 0.25 * Math.Log(0.25 / 0.5) + 0.75 * Math.Log(0.75 / 0.5);

        var kl = GrpoMath.ExactKl(logp, refLogp);

        Assert.That(kl.item<float>(), Is.EqualTo(expected).Within(1e-6));
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

        var samples = multinomial(logPi.exp(), N, replacement: true, generator: g);   // [N] token ids from π
        var logp = logPi.index_select(0, samples).reshape(1, 1, N);                   // one position, G = N
        var refLogp = logRef.index_select(0, samples).reshape(1, 1, N);

        double k3 = GrpoMath.SampledKl(logp, refLogp, KlEstimator.K3).item<float>();
        double k1 = GrpoMath.SampledKl(logp, refLogp, KlEstimator.K1).item<float>();

        Assert.That(k3, Is.EqualTo(exact).Within(3).Percent);
        Assert.That(k1, Is.EqualTo(exact).Within(5).Percent);
        Assert.That(GrpoMath.ExactKl(logPi.reshape(1, 1, V), logRef.reshape(1, 1, V)).item<float>(), Is.EqualTo(exact).Within(1e-5));
    }
}

/// <summary>GrpoMath.Entropy.</summary>
[TestFixture]
public sealed class GrpoMathEntropyTests
{
    [Test]
    public void Entropy_Of_A_Uniform_Distribution_Is_Log_V()
    {
        using var scope = NewDisposeScope();
        const int V = 5;
        var logProbs = full(new long[] { 2, 3, V }, K[(float)Math.Log(1.0 / V)]);

        Assert.That(GrpoMath.Entropy(logProbs).item<float>(), Is.EqualTo(Math.Log(V)).Within(1e-5));
    }

    [Test]
    public void Entropy_Of_A_Point_Mass_Is_Zero_And_Positions_Are_Averaged()
    {
        using var scope = NewDisposeScope();
        // Position 0: uniform over 2 tokens (ln 2); position 1: nearly a point mass (≈ 0). Mean ln 2 / 2.
        var logProbs = T.Of([(float)Math.Log(0.5), (float)Math.Log(0.5), 0f, -100f], 1, 2, 2);

        Assert.That(GrpoMath.Entropy(logProbs).item<float>(), Is.EqualTo(Math.Log(2) / 2).Within(1e-5));
    }
}
