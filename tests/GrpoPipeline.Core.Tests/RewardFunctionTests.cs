namespace GrpoPipeline.Core.Tests;

/// <summary>RewardFunction.Score: the weighted reward of a whole rollout of B·G responses and the component means.</summary>
[TestFixture]
public sealed class RewardFunctionTests
{
    const int G = 2;

    // B = 2 prompts, sorted: [0, 1, 2] and [1, 3, 3].
    static TokenRows Prompts() => TokenRows.From([[2, 0, 1], [3, 3, 1]]);

    // Per response: inclusion+ordering (multiset), sort distance (share of positions), exact — worked by hand.
    static TokenRows Responses() => TokenRows.From(
    [
        [0, 1, 2],   // b0 g0: 3 matched + 2 ordered = 5; 3/3 = 1; exact 1
        [2, 1, 0],   // b0 g1: 3 matched + 0 ordered = 3; position 1 only = 1/3; exact 0
        [1, 3, 4],   // b1 g0: 1 and one 3 matched (2) + 2 ordered = 4; positions 0, 1 = 2/3; exact 0
        [3, 0, 0],   // b1 g1: one 3 matched (1) + 0<=0 (1) = 2; no position = 0; exact 0
    ]);

    static readonly SortTask Sort = new(new TaskOptions { Kind = TaskKind.Variable, MinLength = 1, MaxLength = 3, VocabSize = 5 });

    static readonly RewardFunction Weighted = new(Sort, new RewardWeights { { "inclusionOrdering", 1 }, { "sortDistance", 0.5 }, { "exact", 2 } });

    [Test]
    public void Score_Writes_The_Weighted_Sum_Of_The_Components_Per_Response()
    {
        var rewards = new float[2 * G];

        Weighted.Score(Prompts(), Responses(), G, rewards);

        // 1·5 + 0.5·1 + 2·1 = 7.5;  1·3 + 0.5/3;  1·4 + 0.5·2/3;  1·2.
        Assert.That(rewards, Is.EqualTo(new[] { 7.5f, (float)(3 + 0.5 / 3), (float)(4 + 0.5 * 2 / 3), 2f }));
    }

    [Test]
    public void Score_Returns_The_Mean_Of_Each_Component()
    {
        var means = Weighted.Score(Prompts(), Responses(), G, new float[2 * G]);

        // (5+3+4+2)/4 = 3.5;  (1 + 1/3 + 2/3 + 0)/4 = 0.5;  (1+0+0+0)/4 = 0.25. The means are unweighted.
        Assert.That(Sort.Components.Select(c => c.Name), Is.EqualTo(new[] { "inclusionOrdering", "sortDistance", "exact" }));
        Assert.That(means[0], Is.EqualTo(3.5).Within(1e-12));
        Assert.That(means[1], Is.EqualTo(0.5).Within(1e-12));
        Assert.That(means[2], Is.EqualTo(0.25).Within(1e-12));
    }

    [Test]
    public void Score_With_Default_Weights_Is_The_Lecture_Reward()
    {
        var rewards = new float[2 * G];

        new RewardFunction(Sort, new RewardWeights()).Score(Prompts(), Responses(), G, rewards);

        Assert.That(rewards, Is.EqualTo(new float[] { 5f, 3f, 4f, 2f }));
    }

    [Test]
    public void Score_Takes_Prompts_And_Responses_Of_Different_Lengths()
    {
        // Prompt [2] (sorted [2]) and prompt [1, 0, 1] (sorted [0, 1, 1]), padded to a stride of 3.
        var prompts = TokenRows.From([[2], [1, 0, 1]], padding: 99);
        var responses = TokenRows.From([[2], [2, 2], [0, 1, 1], [0, 1]], padding: 99);
        var rewards = new float[4];

        var means = new RewardFunction(Sort, new RewardWeights { { "inclusionOrdering", 0 }, { "sortDistance", 1 }, { "exact", 1 } }).Score(prompts, responses, G, rewards);

        // [2]: exact (1 + 1); [2, 2]: 1 position of 2 (0.5); [0, 1, 1]: exact (1 + 1); [0, 1]: 2 positions of 3 (2/3).
        Assert.That(rewards, Is.EqualTo(new[] { 2f, 0.5f, 2f, (float)(2.0 / 3) }));
        Assert.That(means[2], Is.EqualTo(0.5), "exact");
    }

    [Test]
    public void Score_Does_Not_Modify_The_Prompts()
    {
        var prompts = Prompts();
        var before = (long[])prompts.Tokens.Clone();
        Weighted.Score(prompts, Responses(), G, new float[2 * G]);
        Assert.That(prompts.Tokens, Is.EqualTo(before));
    }

    [TestCase(4, 3, TestName = "Score_Throws_When_The_Rewards_Buffer_Is_Too_Small")]
    [TestCase(3, 4, TestName = "Score_Throws_When_There_Are_Not_B_G_Responses")]
    public void Score_Throws_On_Disagreeing_Shapes(int responses, int rewardCount)
    {
        Assert.That(() => Weighted.Score(Prompts(), new TokenRows(responses, 3), G, new float[rewardCount]), Throws.ArgumentException);
    }
}
