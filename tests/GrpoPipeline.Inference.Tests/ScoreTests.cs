using GrpoPipeline.Core;
using NUnit.Framework;

namespace GrpoPipeline.Inference.Tests;

/// <summary><see cref="OnnxPolicy.Score"/> reports the task's rewards (<see cref="SortingRewards"/>).</summary>
[TestFixture]
public sealed class ScoreTests
{
    OnnxPolicy _policy = null!;   // the lecture model: L=3, V=5

    [OneTimeSetUp]
    public void Load() => _policy = OnnxPolicy.Load(TestModels.Lecture);

    [OneTimeTearDown]
    public void Dispose() => _policy.Dispose();

    // Prompt [3, 1, 2], sorted [1, 2, 3]. Inclusion+ordering counts prompt tokens matched in the response plus
    // adjacent pairs r[i] ≤ r[i+1]; sort distance is the share of positions equal to the sorted prompt (of 3).
    [TestCase(new long[] { 1, 2, 3 }, 5, 3, true)]    // 3 included + 2 ordered; all positions right
    [TestCase(new long[] { 2, 1, 1 }, 3, 0, false)]   // 1, 2 included; only 1 ≤ 1 ordered; no position right
    [TestCase(new long[] { 1, 3, 3 }, 4, 2, false)]   // 1, 3 included; both pairs ordered; positions 0 and 2 right
    [TestCase(new long[] { 4, 0, 4 }, 1, 0, false)]   // nothing included; only 0 ≤ 4 ordered; no position right
    public void Score_Of_A_Hand_Example(long[] response, int inclusionOrdering, int positionsRight, bool exact)
    {
        Assert.That(_policy.Score([3, 1, 2], response), Is.EqualTo(SortingScore.Of(inclusionOrdering, positionsRight / 3.0, exact)));
    }

    [Test]
    public void Score_Equals_SortingRewards_On_Random_Pairs()
    {
        var prompts = TestModels.RandomPrompts(200, 3, 5, seed: 61);
        var responses = TestModels.RandomPrompts(200, 3, 5, seed: 62);
        for (int i = 0; i < prompts.Length; i++)
        {
            var expected = SortingScore.Of(
                SortingRewards.InclusionOrdering(prompts[i], responses[i]),
                SortingRewards.SortDistance(prompts[i], responses[i]),
                SortingRewards.Exact(prompts[i], responses[i]) == 1);
            Assert.That(_policy.Score(prompts[i], responses[i]), Is.EqualTo(expected), $"pair {i}");
        }
    }
}

/// <summary>The reward score of a sorting model, built by hand from its three components.</summary>
static class SortingScore
{
    public static RewardScore Of(int inclusionOrdering, double sortDistance, bool exact) => new(exact, new Dictionary<string, double>
    {
        ["inclusionOrdering"] = inclusionOrdering, ["sortDistance"] = sortDistance, ["exact"] = exact ? 1 : 0,
    });
}
