using GrpoPipeline.Core;
using GrpoPipeline.Inference;
using NUnit.Framework;

namespace GrpoPipeline.Evaluation.Tests;

/// <summary>
/// The ML.NET pipeline gives the same responses, and so the same metrics, as GrpoPipeline.Inference
/// (<see cref="SorterPolicy.SortBatch(IReadOnlyList{long[]})"/> + <see cref="SortingRewards"/>) on the same prompts.
/// </summary>
[TestFixture]
public sealed class MetricsParityTests
{
    [TestCase(1)]
    [TestCase(7)]
    [TestCase(1024)]
    public void MlNet_Responses_Equal_SortBatch_Responses(int promptsPerRow)
    {
        using var policy = SorterPolicy.Load(TestModels.Trained);
        var prompts = TestModels.RandomPrompts(500, policy.PromptLength, policy.VocabSize, seed: 11);
        using var scorer = new MlNetScorer(TestModels.Trained, policy.PromptLength, promptsPerRow);
        Assert.That(scorer.Responses(prompts), Is.EqualTo(policy.SortBatch(prompts)));
    }

    [TestCase(1)]
    [TestCase(7)]
    [TestCase(1024)]
    public void MlNet_Metrics_Equal_Metrics_Computed_With_Inference_On_The_Held_Out_Prompts(int promptsPerRow)
    {
        var report = PolicyEvaluator.Evaluate([TestModels.Trained], HeldOutSource.FromSplit(100, seed: 3), new EvaluatorOptions { PromptsPerRow = promptsPerRow });
        var actual = report.Models.Single();

        using var policy = SorterPolicy.Load(TestModels.Trained);
        var prompts = new SortTask(TestModels.RandomTask).HeldOutPrompts(100, 3);
        var expected = Reference(prompts, policy.SortBatch(prompts), policy.PromptLength);

        Assert.That(actual.Prompts, Is.EqualTo(prompts.Count));
        Assert.That(actual.ExactMatches, Is.EqualTo(expected.Exact));
        Assert.That(actual.ExactMatch, Is.EqualTo((double)expected.Exact / prompts.Count).Within(1e-12));
        Assert.That(actual.MeanInclusionOrdering, Is.EqualTo(expected.Reward).Within(1e-12));
        Assert.That(actual.NormalizedInclusionOrdering, Is.EqualTo(expected.Reward / (2 * policy.PromptLength - 1)).Within(1e-12));
        Assert.That(actual.MeanSortDistance, Is.EqualTo(expected.SortDistance).Within(1e-12));
        Assert.That(actual.PerPositionAccuracy, Is.EqualTo(expected.PerPosition).Within(1e-12));
        Assert.That(actual.InclusionRate, Is.EqualTo(expected.Inclusion).Within(1e-12));
        Assert.That(actual.OrderingRate, Is.EqualTo(expected.Ordering).Within(1e-12));
        Assert.That(actual.InclusionOrderingDistribution.Sum(), Is.EqualTo(prompts.Count));
        Assert.That(actual.InvalidPrompts, Is.Zero);
    }

    /// <summary>The metrics written out from their definitions, on SortBatch's responses.</summary>
    static (int Exact, double Reward, double SortDistance, double[] PerPosition, double Inclusion, double Ordering) Reference(
        IReadOnlyList<long[]> prompts, long[][] responses, int length)
    {
        int exact = 0;
        double reward = 0, matching = 0, inclusion = 0, ordering = 0;
        var perPosition = new double[length];
        for (int b = 0; b < prompts.Count; b++)
        {
            var (p, r) = (prompts[b], responses[b]);
            var sorted = p.Order().ToArray();
            exact += SortingRewards.Exact(p, r);
            reward += SortingRewards.InclusionOrdering(p, r);
            matching += SortingRewards.SortDistance(p, r);
            for (int i = 0; i < length; i++) perPosition[i] += sorted[i] == r[i] ? 1 : 0;
            // Multiset inclusion: each prompt token needs its own copy in the response.
            var left = r.ToList();
            inclusion += p.Count(t => left.Remove(t)) / (double)length;
            ordering += Enumerable.Range(0, length - 1).Count(i => r[i] <= r[i + 1]) / (double)(length - 1);
        }
        int n = prompts.Count;
        return (exact, reward / n, matching / n, perPosition.Select(x => x / n).ToArray(), inclusion / n, ordering / n);
    }
}
