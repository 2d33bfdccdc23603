namespace GrpoPipeline.Core.Tests;

/// <summary>TaskOptions.Validate: each bad value throws a ConfigException naming the key, the value and the range.</summary>
[TestFixture]
public sealed class TaskOptionsValidationTests
{
    static readonly TaskOptions Random = new() { Kind = TaskKind.Random };

    static void AssertInvalid(TaskOptions options, string key, string value, string allowed)
    {
        Assert.That(options.Validate, Throws.TypeOf<ConfigException>()
            .With.Property(nameof(ConfigException.Key)).EqualTo(key)
            .And.Message.EqualTo($"config '{key}' = {value} is invalid: allowed {allowed}"));
    }

    [Test]
    public void The_Defaults_Are_Valid()
    {
        Assert.That(new TaskOptions().Validate, Throws.Nothing);
        Assert.That(Random.Validate, Throws.Nothing);
    }

    [Test]
    public void The_Limits_Of_Each_Range_Are_Valid()
    {
        Assert.That((Random with { PromptLength = 2, VocabSize = 2, BatchSize = 1, HeldOutFraction = 0, HeldOutSize = 0 }).Validate, Throws.Nothing);
        Assert.That((Random with { PromptLength = 64, VocabSize = 1024, BatchSize = 65536, HeldOutFraction = 0.5, HeldOutSize = 1_000_000 }).Validate, Throws.Nothing);
    }

    [Test]
    public void PromptLength_Below_2_Is_Rejected()
    {
        AssertInvalid(Random with { PromptLength = 1 }, "task.promptLength", "1", "2..64");
    }

    [Test]
    public void PromptLength_Above_64_Is_Rejected()
    {
        AssertInvalid(Random with { PromptLength = 65 }, "task.promptLength", "65", "2..64");
    }

    [Test]
    public void VocabSize_Of_Zero_Is_Rejected()
    {
        AssertInvalid(Random with { VocabSize = 0 }, "task.vocabSize", "0", "2..1024");
    }

    [Test]
    public void BatchSize_Of_Zero_Is_Rejected()
    {
        AssertInvalid(Random with { BatchSize = 0 }, "task.batchSize", "0", "1..65536");
    }

    [Test]
    public void HeldOutFraction_Above_One_Half_Is_Rejected()
    {
        AssertInvalid(Random with { HeldOutFraction = 0.9 }, "task.heldOutFraction", "0.9", "0..0.5");
    }

    [Test]
    public void Negative_And_NaN_HeldOutFractions_Are_Rejected()
    {
        AssertInvalid(Random with { HeldOutFraction = -0.1 }, "task.heldOutFraction", "-0.1", "0..0.5");
        AssertInvalid(Random with { HeldOutFraction = double.NaN }, "task.heldOutFraction", "NaN", "0..0.5");
    }

    [Test]
    public void Negative_HeldOutSize_Is_Rejected()
    {
        AssertInvalid(new TaskOptions { HeldOutSize = -1 }, "task.heldOutSize", "-1", "0..1000000");
    }

    [Test]
    public void A_Ragged_Fixed_Prompt_List_Names_The_Short_Prompt()
    {
        AssertInvalid(new TaskOptions { Prompts = [[1, 0, 2], [3, 2], [1, 2, 3]] }, "task.prompts[1].length", "2", "3, like prompt 0");
    }

    [Test]
    public void An_Empty_Fixed_Prompt_List_Is_Rejected()
    {
        Assert.That(new TaskOptions { Prompts = [] }.Validate,
            Throws.TypeOf<ConfigException>().With.Property(nameof(ConfigException.Key)).EqualTo("task.prompts")
                .And.Message.Contains("at least one prompt"));
    }

    [Test]
    public void A_Fixed_Prompt_Of_Length_1_Is_Rejected()
    {
        AssertInvalid(new TaskOptions { Prompts = [[4]] }, "task.prompts[0].length", "1", "2..64");
    }

    [Test]
    public void A_Fixed_Prompt_Token_Outside_The_Vocab_Range_Names_Its_Position()
    {
        AssertInvalid(new TaskOptions { Prompts = [[1, 0, 2], [3, -2, 4]] }, "task.prompts[1][1]", "-2", "0..1023");
        AssertInvalid(new TaskOptions { Prompts = [[1, 0, 1024]] }, "task.prompts[0][2]", "1024", "0..1023");
    }

    [Test]
    public void SortingTask_Validates_Its_Options()
    {
        Assert.That(() => new SortTask(Random with { VocabSize = 0 }),
            Throws.TypeOf<ConfigException>().With.Property(nameof(ConfigException.Key)).EqualTo("task.vocabSize"));
    }
}

/// <summary>A task's <see cref="VerifiableTask.Weights"/>: by component name, finite, in 0..1000, not all zero.</summary>
[TestFixture]
public sealed class RewardWeightsValidationTests
{
    static readonly SortTask Sort = new(new TaskOptions());

    [Test]
    public void The_Defaults_Are_Valid_And_Unnamed_Components_Keep_Their_Default()
    {
        Assert.That(Sort.Weights(new RewardWeights()), Is.EqualTo(new[] { 1.0, 0, 0 }));
        Assert.That(Sort.Weights(new RewardWeights { { "inclusionOrdering", 0 }, { "exact", 1000 } }), Is.EqualTo(new[] { 0.0, 0, 1000 }));
        Assert.That(Sort.Weights(new RewardWeights { { "sortDistance", 1 } }), Is.EqualTo(new[] { 1.0, 1, 0 }));
    }

    [Test]
    public void An_Unknown_Component_Names_The_Tasks_Components()
    {
        Assert.That(() => Sort.Weights(new RewardWeights { { "digitShare", 1 } }), Throws.TypeOf<ConfigException>()
            .With.Property(nameof(ConfigException.Key)).EqualTo("rewards.digitShare")
            .And.Message.EqualTo("config 'rewards.digitShare' is not a reward component of task 'sort'; its components are inclusionOrdering, sortDistance, exact"));
    }

    [TestCase(-1, 0, 0, "rewards.inclusionOrdering", "-1")]
    [TestCase(1, -0.5, 0, "rewards.sortDistance", "-0.5")]
    [TestCase(1, 0, 1000.5, "rewards.exact", "1000.5")]
    [TestCase(1, double.PositiveInfinity, 0, "rewards.sortDistance", "Infinity")]
    [TestCase(double.NaN, 1, 0, "rewards.inclusionOrdering", "NaN")]
    public void A_Bad_Weight_Names_Its_Key_Value_And_Range(double inclusionOrdering, double sortDistance, double exact, string key, string value)
    {
        var options = new RewardWeights { { "inclusionOrdering", inclusionOrdering }, { "sortDistance", sortDistance }, { "exact", exact } };

        Assert.That(() => Sort.Weights(options), Throws.TypeOf<ConfigException>()
            .With.Property(nameof(ConfigException.Key)).EqualTo(key)
            .And.Message.EqualTo($"config '{key}' = {value} is invalid: allowed a finite weight in 0..1000"));
    }

    [Test]
    public void All_Weights_Zero_Is_Rejected()
    {
        Assert.That(() => Sort.Weights(new RewardWeights { { "inclusionOrdering", 0 }, { "sortDistance", 0 }, { "exact", 0 } }),
            Throws.TypeOf<ConfigException>()
                .With.Property(nameof(ConfigException.Key)).EqualTo("rewards")
                .And.Message.Contains("'rewards'")
                .And.Message.Contains("all zero")
                .And.Message.Contains("at least one weight > 0"));
    }
}
