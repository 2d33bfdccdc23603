using GrpoPipeline.Core;
using NUnit.Framework;

namespace GrpoPipeline.Evaluation.Tests;

/// <summary>The metrics of greedy responses, on examples worked by hand, for sorting and addition.</summary>
[TestFixture]
public sealed class TaskMetricsTests
{
    static readonly SortTask SortL3 = new(new TaskOptions { Kind = TaskKind.Random, PromptLength = 3, VocabSize = 5 });
    static readonly SortTask SortVariable = new(new TaskOptions { Kind = TaskKind.Variable, MinLength = 1, MaxLength = 3, VocabSize = 4 });

    [Test]
    public void A_Sorted_Response_Scores_Every_Component()
    {
        var metrics = new TaskMetrics(SortL3, maxResponseLength: null);
        metrics.Add([3, 1, 2], [1, 2, 3]);
        var s = metrics.Summary();
        Assert.That((s.Task, s.Prompts, s.ExactMatches, s.ExactMatch), Is.EqualTo(("sort", 1, 1, 1.0)));
        Assert.That(s.Rewards, Is.EqualTo(new[]
        {
            new ComponentMean("inclusionOrdering", 5, 1),   // 3 included + 2 ordered pairs; the default weight is 1
            new ComponentMean("sortDistance", 1, 0),
            new ComponentMean("exact", 1, 0),
        }));
        Assert.That(s.MeanRewardShare, Is.EqualTo(1.0), "5 of the 2L − 1 = 5 the default weights can give");
    }

    /// <summary>
    /// Two prompts of length 3. [3, 1, 2] → [1, 1, 1]: 1 included + 2 ordered = 3, one position right (1/3), not exact.
    /// [0, 4, 4] → [0, 4, 4]: 5, 1, exact. Means: 4, 2/3, 1/2; reward share (3/5 + 5/5) / 2 = 0.8.
    /// </summary>
    [Test]
    public void Components_Are_Averaged_Over_Prompts_And_The_Share_Uses_The_Default_Weights()
    {
        var metrics = new TaskMetrics(SortL3, maxResponseLength: null);
        metrics.Add([3, 1, 2], [1, 1, 1]);
        metrics.Add([0, 4, 4], [0, 4, 4]);
        var s = metrics.Summary();
        Assert.That(s.Rewards.Select(r => r.Mean), Is.EqualTo(new[] { 4, 2.0 / 3, 0.5 }).Within(1e-12));
        Assert.That(s.MeanRewardShare, Is.EqualTo(0.8).Within(1e-12));
        Assert.That(s.ExactMatchInterval, Is.EqualTo(ConfidenceInterval.Wilson(1, 2)));
        Assert.That(s.ByLength, Is.EqualTo(new[] { new LengthSummary(3, 2, 1, 0.5, ConfidenceInterval.Wilson(1, 2), 0.8, 0, 3) }));
        Assert.That((s.Truncated, s.TruncatedShare, s.MeanResponseLength), Is.EqualTo((0, 0.0, 3.0)));
    }

    /// <summary>
    /// A decoder on lengths 1..3 (responses cut at 4 tokens), worked by hand; the share is inclusion + ordering over 2n − 1:
    /// [2] → [2]: exact, 1 of 1. [3, 1] → [1, 3]: exact, 3 of 3. [3, 1] → [1]: 1 of 3.
    /// [2, 0, 1] → [0, 1, 2, 2]: truncated, 3 inclusions + 2 pairs (capped at n − 1) = 5 of 5.
    /// </summary>
    [Test]
    public void Mixed_Lengths_Are_Scored_Per_Length_With_Truncation_And_Response_Length()
    {
        var metrics = new TaskMetrics(SortVariable, maxResponseLength: 4);
        metrics.Add([2], [2]);
        metrics.Add([3, 1], [1, 3]);
        metrics.Add([3, 1], [1]);
        metrics.Add([2, 0, 1], [0, 1, 2, 2]);
        var s = metrics.Summary();

        Assert.That((s.Prompts, s.ExactMatches, s.ExactMatch), Is.EqualTo((4, 2, 0.5)));
        Assert.That(s.ByLength, Is.EqualTo(new[]
        {
            new LengthSummary(1, 1, 1, 1.0, ConfidenceInterval.Wilson(1, 1), 1.0, 0, 1.0),
            new LengthSummary(2, 2, 1, 0.5, ConfidenceInterval.Wilson(1, 2), (1 + 1.0 / 3) / 2, 0, 1.5),
            new LengthSummary(3, 1, 0, 0.0, ConfidenceInterval.Wilson(0, 1), 1.0, 1, 4.0),
        }));
        Assert.That((s.Truncated, s.TruncatedShare, s.MeanResponseLength), Is.EqualTo((1, 0.25, 2.0)));
        Assert.That(s.Rewards[1].Mean, Is.EqualTo((1 + 1 + 0.5 + 0.75) / 4), "sort distance: positions right of max(|response|, |prompt|)");
    }

    /// <summary>
    /// Addition, answers least significant digit first: 7 + 5 = 12 → [2, 1]. [2, 1] is exact; [2] has one digit of two
    /// right (digitShare 1/2); [1, 2] none. The default weights are digitShare 1, exact 0.
    /// </summary>
    [Test]
    public void Addition_Is_Scored_With_Its_Own_Components()
    {
        var add = new AddTask(new TaskOptions { Name = "add", Add = new AddOptions { MinDigits = 1, MaxDigits = 2 } });
        var metrics = new TaskMetrics(add, maxResponseLength: add.MaxResponseLength);
        long[] prompt = [7, AddTask.Plus, 5, AddTask.EqualsSign];
        metrics.Add(prompt, [2, 1]);
        metrics.Add(prompt, [2]);
        metrics.Add(prompt, [1, 2]);
        var s = metrics.Summary();
        Assert.That((s.Task, s.ExactMatches), Is.EqualTo(("add", 1)));
        Assert.That(s.Rewards, Is.EqualTo(new[] { new ComponentMean("digitShare", 0.5, 1), new ComponentMean("exact", 1.0 / 3, 0) }));
        Assert.That(s.MeanRewardShare, Is.EqualTo(0.5));
        Assert.That(s.ByLength.Single().Length, Is.EqualTo(4));
    }

    [Test]
    public void A_Response_Of_The_Wrong_Length_Or_A_Prompt_Outside_The_Lengths_Is_Refused()
    {
        Assert.That(() => new TaskMetrics(SortL3, null).Add([1, 2, 3], [1, 2]), Throws.ArgumentException);
        var metrics = new TaskMetrics(SortVariable, maxResponseLength: 4);
        Assert.That(() => metrics.Add([1, 2, 3, 0], [1]), Throws.ArgumentException.With.Message.Contains("1..3"));
        Assert.That(() => metrics.Add([1, 2], [1, 2, 3, 0, 0]), Throws.ArgumentException.With.Message.Contains("at most 4"));
        Assert.That(metrics.Count, Is.Zero);
    }
}
