using NUnit.Framework;

namespace GrpoPipeline.Evaluation.Tests;

/// <summary>
/// Wilson score interval, z = 1.96, against values worked out by hand from
/// (p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n), with z² = 3.8415.
/// </summary>
[TestFixture]
public sealed class WilsonIntervalTests
{
    // 0/10: p̂ = 0, so the interval is [0, (z²/n)/(1 + z²/n)] = [0, 0.38415/1.38415].
    [TestCase(0, 10, 0.0, 0.27753)]
    // 10/10: the mirror image of 0/10.
    [TestCase(10, 10, 0.72247, 1.0)]
    // 5/10: centre 0.5, half-width 1.96·√(0.025 + 0.0096)/1.38415 = 0.26341.
    [TestCase(5, 10, 0.23659, 0.76341)]
    // 81/100: centre (0.81 + 0.019207)/1.038415 = 0.79853, half-width 1.96·√(0.001539 + 0.000096)/1.038415 = 0.07632.
    [TestCase(81, 100, 0.72221, 0.87485)]
    public void Interval_Matches_The_Hand_Computed_Values(int successes, int trials, double low, double high)
    {
        var interval = ConfidenceInterval.Wilson(successes, trials);
        Assert.That(interval.Low, Is.EqualTo(low).Within(1e-5));
        Assert.That(interval.High, Is.EqualTo(high).Within(1e-5));
    }

    [Test]
    public void The_Ends_Are_Exactly_Zero_And_One()
    {
        Assert.That(ConfidenceInterval.Wilson(0, 10).Low, Is.EqualTo(0.0));
        Assert.That(ConfidenceInterval.Wilson(10, 10).High, Is.EqualTo(1.0));
    }

    [Test]
    public void The_Interval_Holds_The_Estimate_And_Narrows_With_More_Trials()
    {
        var small = ConfidenceInterval.Wilson(3, 10);
        var large = ConfidenceInterval.Wilson(300, 1000);
        Assert.That(0.3, Is.InRange(small.Low, small.High));
        Assert.That(0.3, Is.InRange(large.Low, large.High));
        Assert.That(large.High - large.Low, Is.LessThan(small.High - small.Low));
    }

    [Test]
    public void No_Trials_Give_The_Whole_Unit_Interval() =>
        Assert.That(ConfidenceInterval.Wilson(0, 0), Is.EqualTo(new ConfidenceInterval(0, 1)));

    [Test]
    public void More_Successes_Than_Trials_Is_An_Error() =>
        Assert.That(() => ConfidenceInterval.Wilson(11, 10), Throws.TypeOf<ArgumentOutOfRangeException>());
}
