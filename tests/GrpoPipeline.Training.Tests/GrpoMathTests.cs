using NUnit.Framework;
using TorchSharp;
using static GrpoPipeline.Training.Tests.TestScalars;
using static TorchSharp.torch;

namespace GrpoPipeline.Training.Tests;

/// <summary>Small tensor builders and readers for the hand-computed examples below.</summary>
file static class T
{
    public static Tensor Of(float[] values, params long[] shape) => tensor(values, shape);

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
    public void Rloo_Deltas_Subtract_The_Mean_Of_The_Other_Responses()
    {
        using var scope = NewDisposeScope();
        // G = 4. Group [1, 0, 0, 1]: the others' means are 1/3, 2/3, 2/3, 1/3, so δ = 2/3, −2/3, −2/3, 2/3.
        // Group [2, 2, 2, 6]: the others' means are 10/3, 10/3, 10/3, 2, so δ = −4/3, −4/3, −4/3, 4.
        var deltas = GrpoMath.Deltas(T.Of([1, 0, 0, 1, 2, 2, 2, 6], 2, 4), DeltasMode.Rloo);
        // G = 3. Group [3, 0, 0]: the others' means are 0, 1.5, 1.5, so δ = 3, −1.5, −1.5.
        var three = GrpoMath.Deltas(T.Of([3, 0, 0], 1, 3), DeltasMode.Rloo);

        Assert.That(T.Values(deltas), Is.EqualTo(new[] { 2 / 3f, -2 / 3f, -2 / 3f, 2 / 3f, -4 / 3f, -4 / 3f, -4 / 3f, 4f }).Within(1e-6));
        Assert.That(T.Values(three), Is.EqualTo(new[] { 3f, -1.5f, -1.5f }).Within(1e-6));
    }

    [Test]
    public void Rloo_Deltas_Need_Two_Responses_Per_Group() =>
        Assert.That(() => GrpoMath.Deltas(T.Of([1, 2], 2, 1), DeltasMode.Rloo), Throws.ArgumentException);

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
    public void Centered_Deltas_Reproduce_The_Lecture_Baseline_With_Group_Means()
    {
        using var scope = NewDisposeScope();
        // The group means 10 and 1 are exactly the lecture's hand-picked baselines b(s1), b(s2).
        var rewards = T.Of([11, 9, 0, 2], 2, 2);

        var deltas = GrpoMath.Deltas(rewards, DeltasMode.Centered);

        Assert.That(T.Values(deltas), Is.EqualTo(new float[] { 1, -1, -1, 1 }));
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
