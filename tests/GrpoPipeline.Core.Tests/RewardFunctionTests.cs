namespace GrpoPipeline.Core.Tests;

/// <summary>RewardFunction.Score: the weighted reward of a whole [B, G, L] rollout and the component means.</summary>
[TestFixture]
public sealed class RewardFunctionTests
{
    const int L = 3, G = 2;

    // B = 2 prompts, sorted: [0, 1, 2] and [1, 3, 3].
    static readonly long[] Prompts = [2, 0, 1, /**/ 3, 3, 1];

    // Per response: inclusion+ordering, sort distance, exact (worked by hand).
    static readonly long[] Responses =
    [
        0, 1, 2,   // b0 g0: 3 found + 2 ordered = 5; 3 positions; exact 1
        2, 1, 0,   // b0 g1: 3 found + 0 ordered = 3; position 1 only = 1; exact 0
        1, 3, 4,   // b1 g0: 3, 3, 1 all found (3) + 2 ordered = 5; positions 0, 1 = 2; exact 0
        3, 0, 0,   // b1 g1: both 3s found, 1 not (2) + 0<=0 (1) = 3; no positions = 0; exact 0
    ];

    static readonly RewardFunction Weighted = new(new RewardOptions { InclusionOrdering = 1, SortDistance = 0.5, Exact = 2 });

    [Test]
    public void Score_Writes_The_Weighted_Sum_Of_The_Components_Per_Response()
    {
        var rewards = new float[2 * G];

        Weighted.Score(Prompts, Responses, L, G, rewards);

        // 1·5 + 0.5·3 + 2·1 = 8.5;  1·3 + 0.5·1 = 3.5;  1·5 + 0.5·2 = 6;  1·3 = 3.
        Assert.That(rewards, Is.EqualTo(new float[] { 8.5f, 3.5f, 6f, 3f }));
    }

    [Test]
    public void Score_Returns_The_Mean_Of_Each_Component()
    {
        var means = Weighted.Score(Prompts, Responses, L, G, new float[2 * G]);

        // (5+3+5+3)/4 = 4;  (3+1+2+0)/4 = 1.5;  (1+0+0+0)/4 = 0.25. The means are unweighted.
        Assert.That(means.InclusionOrdering, Is.EqualTo(4.0).Within(1e-12));
        Assert.That(means.SortDistance, Is.EqualTo(1.5).Within(1e-12));
        Assert.That(means.Exact, Is.EqualTo(0.25).Within(1e-12));
    }

    [Test]
    public void Score_With_Default_Weights_Is_The_Lecture_Reward()
    {
        var rewards = new float[2 * G];

        new RewardFunction(new RewardOptions()).Score(Prompts, Responses, L, G, rewards);

        Assert.That(rewards, Is.EqualTo(new float[] { 5f, 3f, 5f, 3f }));
    }

    [Test]
    public void Score_Does_Not_Modify_The_Prompts()
    {
        var prompts = (long[])Prompts.Clone();
        Weighted.Score(prompts, Responses, L, G, new float[2 * G]);
        Assert.That(prompts, Is.EqualTo(Prompts));
    }

    [TestCase(6, 12, 3, TestName = "Score_Throws_When_The_Rewards_Buffer_Is_Too_Small")]
    [TestCase(6, 9, 4, TestName = "Score_Throws_When_The_Responses_Are_Not_B_G_L")]
    [TestCase(5, 12, 4, TestName = "Score_Throws_When_The_Prompts_Are_Not_A_Multiple_Of_L")]
    public void Score_Throws_On_Disagreeing_Shapes(int promptTokens, int responseTokens, int rewardCount)
    {
        Assert.That(() => Weighted.Score(new long[promptTokens], new long[responseTokens], L, G, new float[rewardCount]),
            Throws.ArgumentException);
    }
}
