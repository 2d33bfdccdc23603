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

    [Test]
    public void A_Sorter_Has_One_Length_And_No_Truncation()
    {
        var metrics = new SortMetrics(3);
        metrics.Add([3, 1, 2], [1, 2, 3]);
        metrics.Add([0, 0, 1], [0, 1, 1]);
        var s = metrics.Summary();
        Assert.That(s.ByLength, Is.EqualTo(new[] { new LengthSummary(3, 2, 1, 0.5, ConfidenceInterval.Wilson(1, 2), (1 + 2.0 / 3) / 2, 0, 3) }));
        Assert.That((s.Truncated, s.TruncatedShare, s.MeanResponseLength), Is.EqualTo((0, 0.0, 3.0)));
    }

    /// <summary>
    /// A decoder on lengths 1..3 (responses cut at 4 tokens), four prompts worked by hand. Sorted prompt, then response:
    /// [2] → [2]: exact; 1 inclusion, no pair (cap 0); reward 1 of 1.
    /// [1, 3] → [1, 3]: exact; 2 + 1; reward 3 of 3.
    /// [1, 3] → [1]: short; position 0 right, sort distance 1/2; 1 inclusion, no pair; reward 1 of 3.
    /// [0, 1, 2] → [0, 1, 2, 2]: truncated; 3 positions right of 4, 0.75; 3 inclusions, 3 ordered pairs capped at 2; reward 5 of 5.
    /// </summary>
    [Test]
    public void Mixed_Lengths_Are_Scored_Per_Length_With_Truncation_And_Response_Length()
    {
        var metrics = new SortMetrics(minLength: 1, maxLength: 3, maxResponseLength: 4);
        metrics.Add([2], [2]);
        metrics.Add([3, 1], [1, 3]);
        metrics.Add([3, 1], [1]);
        metrics.Add([2, 0, 1], [0, 1, 2, 2]);
        var s = metrics.Summary();

        Assert.That((s.Prompts, s.ExactMatches, s.ExactMatch), Is.EqualTo((4, 2, 0.5)));
        Assert.That(s.ByLength, Is.EqualTo(new[]
        {
            new LengthSummary(1, 1, 1, 1.0, ConfidenceInterval.Wilson(1, 1), 1.0, 0, 1.0),
            new LengthSummary(2, 2, 1, 0.5, ConfidenceInterval.Wilson(1, 2), 0.75, 0, 1.5),
            new LengthSummary(3, 1, 0, 0.0, ConfidenceInterval.Wilson(0, 1), 0.75, 1, 4.0),
        }));
        Assert.That((s.Truncated, s.TruncatedShare, s.MeanResponseLength), Is.EqualTo((1, 0.25, 2.0)));
        Assert.That(s.MeanSortDistance, Is.EqualTo((1 + 1 + 0.5 + 0.75) / 4));
        Assert.That((s.MeanInclusionOrdering, s.MaxInclusionOrdering), Is.EqualTo((2.5, 5)));
        Assert.That(s.NormalizedInclusionOrdering, Is.EqualTo(10.0 / 12), "10 earned of 1 + 3 + 3 + 5");
        Assert.That(s.InclusionRate, Is.EqualTo(7.0 / 8), "7 of 8 prompt tokens found");
        Assert.That(s.OrderingRate, Is.EqualTo(3.0 / 4), "3 ordered of the 0 + 1 + 1 + 2 pairs that count");
        Assert.That(s.PerPositionAccuracy, Is.EqualTo(new[] { 1.0, 2.0 / 3, 1.0 }), "position 1 over the 3 prompts of length ≥ 2; the short response misses it");
        Assert.That(s.InclusionOrderingDistribution, Is.EqualTo(new[] { 0, 2, 0, 1, 0, 1 }));
    }

    [Test]
    public void A_Decoder_Prompt_Outside_Its_Lengths_Or_A_Response_Past_The_Cap_Is_Refused()
    {
        var metrics = new SortMetrics(2, 3, maxResponseLength: 4);
        Assert.That(() => metrics.Add([1], [1]), Throws.ArgumentException.With.Message.Contains("2..3"));
        Assert.That(() => metrics.Add([1, 2], [1, 2, 3, 4, 5]), Throws.ArgumentException.With.Message.Contains("at most 4"));
        Assert.That(metrics.Count, Is.Zero);
    }
}
