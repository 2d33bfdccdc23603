using NUnit.Framework;

namespace GrpoPipeline.Evaluation.Tests;

/// <summary>The per-prompt metrics on responses whose scores are known.</summary>
[TestFixture]
public sealed class SortMetricsTests
{
    [Test]
    public void A_Sorted_Response_Scores_Everything()
    {
        var metrics = new SortMetrics(3);
        metrics.Add([3, 1, 2], [1, 2, 3]);
        var s = metrics.Summary();
        Assert.That((s.ExactMatch, s.MeanInclusionOrdering, s.MaxInclusionOrdering, s.NormalizedInclusionOrdering), Is.EqualTo((1.0, 5.0, 5, 1.0)));
        Assert.That((s.MeanSortDistance, s.InclusionRate, s.OrderingRate), Is.EqualTo((1.0, 1.0, 1.0)));
        Assert.That(s.PerPositionAccuracy, Is.EqualTo(new[] { 1.0, 1.0, 1.0 }));
        Assert.That(s.InclusionOrderingDistribution, Is.EqualTo(new[] { 0, 0, 0, 0, 0, 1 }));
    }

    [Test]
    public void A_Constant_Response_Is_Ordered_But_Includes_One_Token()
    {
        var metrics = new SortMetrics(3);
        metrics.Add([3, 1, 2], [1, 1, 1]);
        var s = metrics.Summary();
        Assert.That(s.ExactMatch, Is.EqualTo(0.0));
        Assert.That(s.MeanInclusionOrdering, Is.EqualTo(3.0), "1 inclusion + 2 ordered pairs");
        Assert.That(s.InclusionRate, Is.EqualTo(1.0 / 3));
        Assert.That(s.OrderingRate, Is.EqualTo(1.0));
        Assert.That(s.PerPositionAccuracy, Is.EqualTo(new[] { 1.0, 0.0, 0.0 }));
        Assert.That(s.MeanSortDistance, Is.EqualTo(1.0 / 3), "the sort-distance reward: one position of three is right");
    }

    [Test]
    public void Rates_Average_Over_Prompts_And_Recompose_The_Reward()
    {
        var metrics = new SortMetrics(4);
        metrics.Add([0, 1, 2, 3], [0, 1, 2, 3]);   // exact: reward 7
        metrics.Add([3, 3, 0, 1], [3, 2, 1, 0]);   // inclusion 3 (one 3, the 0 and the 1; the second 3 has no copy), no ordered pair: reward 3
        var s = metrics.Summary();
        Assert.That(s.Prompts, Is.EqualTo(2));
        Assert.That(s.ExactMatches, Is.EqualTo(1));
        Assert.That(s.MeanInclusionOrdering, Is.EqualTo(5.0));
        Assert.That(s.NormalizedInclusionOrdering, Is.EqualTo(5.0 / 7));
        Assert.That(s.MeanInclusionOrdering, Is.EqualTo(4 * s.InclusionRate + 3 * s.OrderingRate).Within(1e-12));
        Assert.That(s.PerPositionAccuracy, Is.EqualTo(new[] { 0.5, 0.5, 0.5, 0.5 }), "the first matches everywhere; sorted [0,1,3,3] vs [3,2,1,0] nowhere");
        Assert.That(s.ExactMatchInterval, Is.EqualTo(ConfidenceInterval.Wilson(1, 2)));
        Assert.That(s.InclusionOrderingDistribution[3] + s.InclusionOrderingDistribution[7], Is.EqualTo(2));
    }

    [Test]
    public void A_Response_Of_The_Wrong_Length_Is_Refused() =>
        Assert.That(() => new SortMetrics(3).Add([1, 2, 3], [1, 2]), Throws.ArgumentException);
}
