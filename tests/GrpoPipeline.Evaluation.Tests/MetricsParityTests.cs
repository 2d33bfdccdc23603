using GrpoPipeline.Core;
using GrpoPipeline.Inference;
using NUnit.Framework;

namespace GrpoPipeline.Evaluation.Tests;

/// <summary>
/// The ML.NET pipeline gives the same responses, and so the same metrics, as GrpoPipeline.Inference
/// (<see cref="OnnxPolicy.RespondBatch(IReadOnlyList{long[]})"/> + <see cref="SortingRewards"/>) on the same prompts.
/// </summary>
[TestFixture]
public sealed class MetricsParityTests
{
    [TestCase(1)]
    [TestCase(7)]
    [TestCase(1024)]
    public void MlNet_Responses_Equal_SortBatch_Responses(int promptsPerRow)
    {
        using var policy = OnnxPolicy.Load(TestModels.Trained);
        var prompts = TestModels.RandomPrompts(500, policy.PromptLength, policy.VocabSize, seed: 11);
        using var scorer = new MlNetScorer(TestModels.Trained, policy.PromptLength, promptsPerRow);
        Assert.That(scorer.Responses(prompts), Is.EqualTo(policy.RespondBatch(prompts)));
    }

    [TestCase(1)]
    [TestCase(7)]
    [TestCase(1024)]
    public void MlNet_Metrics_Equal_Metrics_Computed_With_Inference_On_The_Held_Out_Prompts(int promptsPerRow)
    {
        var report = PolicyEvaluator.Evaluate([TestModels.Trained], HeldOutSource.FromSplit(100, seed: 3), new EvaluatorOptions { PromptsPerRow = promptsPerRow });
        var actual = report.Models.Single();

        using var policy = OnnxPolicy.Load(TestModels.Trained);
        var prompts = new SortTask(TestModels.RandomTask).HeldOutPrompts(100, 3);
        var expected = Reference(prompts, policy.RespondBatch(prompts), policy.PromptLength);

        Assert.That(actual.Prompts, Is.EqualTo(prompts.Count));
        Assert.That(actual.ExactMatches, Is.EqualTo(expected.Exact));
        Assert.That(actual.ExactMatch, Is.EqualTo((double)expected.Exact / prompts.Count).Within(1e-12));
        Assert.That(actual.Task, Is.EqualTo("sort"));
        Assert.That(actual.Rewards.Select(r => r.Name), Is.EqualTo(new[] { "inclusionOrdering", "sortDistance", "exact" }));
        Assert.That(actual.Rewards[0].Mean, Is.EqualTo(expected.Reward).Within(1e-12));
        Assert.That(actual.Rewards[1].Mean, Is.EqualTo(expected.SortDistance).Within(1e-12));
        Assert.That(actual.Rewards[2].Mean, Is.EqualTo(actual.ExactMatch).Within(1e-12));
        Assert.That(actual.MeanRewardShare, Is.EqualTo(expected.Reward / (2 * policy.PromptLength - 1)).Within(1e-12));
        Assert.That(actual.InvalidPrompts, Is.Zero);
    }

    /// <summary>The metrics written out from their definitions, on RespondBatch's responses.</summary>
    static (int Exact, double Reward, double SortDistance) Reference(IReadOnlyList<long[]> prompts, long[][] responses, int length)
    {
        int exact = 0;
        double reward = 0, matching = 0;
        for (int b = 0; b < prompts.Count; b++)
        {
            var (p, r) = (prompts[b], responses[b]);
            var sorted = p.Order().ToArray();
            exact += sorted.SequenceEqual(r) ? 1 : 0;
            // Multiset inclusion: each prompt token needs its own copy in the response; then the ordered adjacent pairs.
            var left = r.ToList();
            reward += p.Count(t => left.Remove(t)) + Enumerable.Range(0, length - 1).Count(i => r[i] <= r[i + 1]);
            matching += Enumerable.Range(0, length).Count(i => sorted[i] == r[i]) / (double)length;
        }
        int n = prompts.Count;
        return (exact, reward / n, matching / n);
    }
}
