using System.Text.Json;

namespace GrpoPipeline.Core.Tests;

/// <summary>Tasks by name, reward weights by component name, and metric keys from component names.</summary>
[TestFixture, NonParallelizable]   // the registry is process-wide
public sealed class TaskRegistryTests
{
    /// <summary>The smallest task of one's own: the response repeats the prompt.</summary>
    sealed class EchoTask(TaskOptions options, bool withExact = true) : TokenListTask(options)
    {
        public override string Name => "echo-test";
        public override IReadOnlyList<RewardComponent> Components { get; } = withExact
            ? [new("tokenShare", 1, "share of positions right"), new(RewardComponent.ExactName, 0, "the prompt, repeated")]
            : [new("tokenShare", 1, "share of positions right")];
        public override void Score(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response, Span<double> values)
        {
            int same = 0;
            for (int i = 0; i < Math.Min(prompt.Length, response.Length); i++) same += prompt[i] == response[i] ? 1 : 0;
            values[0] = (double)same / Math.Max(prompt.Length, response.Length);
            if (values.Length > 1) values[1] = IsExact(prompt, response) ? 1 : 0;
        }
        public override bool IsExact(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response) => prompt.SequenceEqual(response);
        public override double MaxReward(IReadOnlyList<double> weights, int promptLength) => weights.Sum();
    }

    [TearDown]
    public void TearDown() => TaskRegistry.Register("echo-test", o => new EchoTask(o));

    [Test]
    public void Sort_Is_Built_In_And_The_Default()
    {
        Assert.That(TaskRegistry.Names, Does.Contain("sort"));
        Assert.That(new TaskOptions().Name, Is.EqualTo("sort"));
        Assert.That(TaskRegistry.Create(new TaskOptions()), Is.TypeOf<SortTask>());
    }

    [Test]
    public void An_Unknown_Task_Name_Is_A_Config_Error_Listing_The_Tasks()
    {
        Assert.That(() => TaskRegistry.Create(new TaskOptions { Name = "sorting" }), Throws.TypeOf<ConfigException>()
            .With.Property(nameof(ConfigException.Key)).EqualTo("task.name")
            .And.Message.StartsWith("config 'task.name' = \"sorting\" is not a known task; the tasks are ").And.Message.Contains("sort"));
    }

    [Test]
    public void An_App_Registers_Its_Own_Task_And_Its_Components_Name_The_Metrics()
    {
        TaskRegistry.Register("echo-test", o => new EchoTask(o));
        var task = TaskRegistry.Create(new TaskOptions { Name = "echo-test", Kind = TaskKind.Random, PromptLength = 3, VocabSize = 4 });

        Assert.That(task.Name, Is.EqualTo("echo-test"));
        Assert.That(task.Components.Select(c => c.MetricKey), Is.EqualTo(new[] { "reward/token_share", "reward/exact" }));
        var rewards = new float[2];
        var means = new RewardFunction(task, new RewardWeights { { "exact", 2 } })
            .Score(TokenRows.From([[1, 2, 3]]), TokenRows.From([[1, 2, 3], [1, 0, 3]]), 2, rewards);
        Assert.That(rewards, Is.EqualTo(new[] { 1f + 2f, 2f / 3 }), "tokenShare at its default 1, exact at 2");
        Assert.That(means, Is.EqualTo(new[] { (1 + 2.0 / 3) / 2, 0.5 }));
    }

    [Test]
    public void A_Task_Without_An_Exact_Component_Is_Refused()
    {
        TaskRegistry.Register("echo-test", o => new EchoTask(o, withExact: false));
        Assert.That(() => TaskRegistry.Create(new TaskOptions { Name = "echo-test", Kind = TaskKind.Random }),
            Throws.InvalidOperationException.With.Message.Contains("has no 'exact' reward component"));
    }

    [Test]
    public void Reward_Weights_Read_And_Write_As_An_Object_In_Order()
    {
        var weights = JsonSerializer.Deserialize<RewardWeights>("""{ "sortDistance": 1, "inclusionOrdering": 0.5 }""", ConfigJson.Options)!;

        Assert.That(weights.Keys, Is.EqualTo(new[] { "sortDistance", "inclusionOrdering" }));
        Assert.That(weights["inclusionOrdering"], Is.EqualTo(0.5));
        Assert.That(JsonSerializer.Serialize(weights), Is.EqualTo("""{"sortDistance":1,"inclusionOrdering":0.5}"""));
        Assert.That(weights, Is.EqualTo(new RewardWeights { { "sortDistance", 1 }, { "inclusionOrdering", 0.5 } }));
    }

    [TestCase("""{ "exact": "1" }""", "rewards.exact must be a number")]
    [TestCase("""{ "exact": 1, "exact": 2 }""", "rewards.exact is given twice")]
    [TestCase("""[1, 2]""", "rewards must be an object")]
    public void Bad_Reward_Weights_Json_Says_What_Is_Wrong(string json, string message)
    {
        Assert.That(() => JsonSerializer.Deserialize<RewardWeights>(json, ConfigJson.Options), Throws.TypeOf<JsonException>().With.Message.Contains(message));
    }

    [Test]
    public void Metric_Keys_Are_The_Component_Names_In_Snake_Case()
    {
        Assert.That(new SortTask(new TaskOptions()).Components.Select(c => c.MetricKey),
            Is.EqualTo(new[] { "reward/inclusion_ordering", "reward/sort_distance", "reward/exact" }), "the keys sorting always logged");
        Assert.That(MetricKeys.RewardExact, Is.EqualTo("reward/exact"));
    }
}

/// <summary>Reversal: its rewards by hand, and its split shared with every token-list task.</summary>
[TestFixture]
public sealed class ReverseTaskTests
{
    static readonly ReverseTask Reverse = (ReverseTask)TaskRegistry.Create(new TaskOptions { Name = "reverse", Kind = TaskKind.Variable, MinLength = 1, MaxLength = 4, VocabSize = 5 });

    static double[] Score(long[] prompt, long[] response)
    {
        var values = new double[Reverse.Components.Count];
        Reverse.Score(prompt, response, values);
        return values;
    }

    [Test]
    public void The_Reversed_Prompt_Is_Exact_And_Earns_Every_Position()
    {
        Assert.That(Score([1, 2, 3], [3, 2, 1]), Is.EqualTo(new[] { 1.0, 1 }));
        Assert.That(Reverse.IsExact([4], [4]), Is.True);
    }

    [Test]
    public void Wrong_Missing_And_Extra_Tokens_Cost_Their_Share_Of_The_Longer_One()
    {
        Assert.That(Score([1, 2, 3], [3, 0, 1]), Is.EqualTo(new[] { 2.0 / 3, 0 }), "a wrong middle token");
        Assert.That(Score([1, 2, 3], [1, 2, 3]), Is.EqualTo(new[] { 1.0 / 3, 0 }), "the prompt itself: only the middle matches");
        Assert.That(Score([1, 2, 3], [3, 2]), Is.EqualTo(new[] { 2.0 / 3, 0 }), "one token missing");
        Assert.That(Score([1, 2], [2, 1, 1, 1]), Is.EqualTo(new[] { 2.0 / 4, 0 }), "two extra tokens");
        Assert.That(Score([1, 2], []), Is.EqualTo(new[] { 0.0, 0 }), "no response");
    }

    [Test]
    public void Reverse_Shares_Sortings_Held_Out_Split()
    {
        var options = new TaskOptions { Kind = TaskKind.Variable, MinLength = 1, MaxLength = 4, VocabSize = 5 };
        var sort = new SortTask(options);
        Assert.That(Reverse.HeldOutPrompts(40, 3), Is.EqualTo(sort.HeldOutPrompts(40, 3)), "the split is the prompt space's, not the task's");
        Assert.That(Reverse.Components.Select(c => c.MetricKey), Is.EqualTo(new[] { "reward/position_share", "reward/exact" }));
    }
}
