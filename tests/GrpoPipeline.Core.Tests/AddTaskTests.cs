namespace GrpoPipeline.Core.Tests;

/// <summary>The lecture's arithmetic example: prompts, answers in both digit orders, rewards by hand, the split.</summary>
[TestFixture]
public sealed class AddTaskTests
{
    static AddTask Add(DigitOrder order = DigitOrder.LeastSignificantFirst, int minDigits = 1, int maxDigits = 2) =>
        (AddTask)TaskRegistry.Create(new TaskOptions { Name = "add", Add = new AddOptions { MinDigits = minDigits, MaxDigits = maxDigits, AnswerOrder = order } });

    // 47 + 85 = 132
    static readonly long[] Prompt = [4, 7, AddTask.Plus, 8, 5, AddTask.EqualsSign];

    [Test]
    public void The_Answer_Is_The_Sums_Digits_In_The_Chosen_Order()
    {
        var room = new long[4];
        Assert.That(Add(DigitOrder.LeastSignificantFirst).Answer(Prompt, room).ToArray(), Is.EqualTo(new long[] { 2, 3, 1 }));
        Assert.That(Add(DigitOrder.MostSignificantFirst).Answer(Prompt, room).ToArray(), Is.EqualTo(new long[] { 1, 3, 2 }));
        Assert.That(Add().Answer([0, AddTask.Plus, 0, AddTask.EqualsSign], room).ToArray(), Is.EqualTo(new long[] { 0 }), "0 + 0 = 0, one digit");
    }

    [Test]
    public void Rewards_Are_The_Share_Of_Right_Digits_And_Exact()
    {
        var task = Add();
        double[] Score(long[] response) { var v = new double[2]; task.Score(Prompt, response, v); return v; }

        Assert.That(Score([2, 3, 1]), Is.EqualTo(new[] { 1.0, 1 }));
        Assert.That(Score([2, 3, 9]), Is.EqualTo(new[] { 2.0 / 3, 0 }), "the carry digit wrong");
        Assert.That(Score([2, 3]), Is.EqualTo(new[] { 2.0 / 3, 0 }), "the carry digit missing");
        Assert.That(Score([2, 3, 1, 0]), Is.EqualTo(new[] { 3.0 / 4, 0 }), "an extra digit");
        Assert.That(Score([1, 3, 2]), Is.EqualTo(new[] { 1.0 / 3, 0 }), "the other order");
        Assert.That(task.IsExact(Prompt, [2, 3, 1]), Is.True);
    }

    [Test]
    public void Shapes_Vocabulary_And_Token_Names()
    {
        var task = Add(maxDigits: 3);
        Assert.That((task.Vocab, task.MaxPromptLength, task.Rules.MinLength, task.MaxResponseLength), Is.EqualTo((12, 8, 4, 5)));
        Assert.That(task.IsVariableLength, Is.True);
        Assert.That(string.Join(" ", Prompt.Select(t => task.TokenName(t))), Is.EqualTo("4 7 + 8 5 ="));
        Assert.That(task.TokenName(task.Special.Eos), Is.EqualTo("EOS"));
    }

    [Test]
    public void Training_Prompts_Are_Well_Formed_And_Never_Held_Out()
    {
        var task = Add();
        var batch = task.NewBatch();
        task.SampleTrainingBatch(batch, new Rng(5));
        Assert.That(batch.Count, Is.EqualTo(task.BatchSize).And.GreaterThan(0));
        for (int b = 0; b < batch.Count; b++)
        {
            var p = batch[b];
            Assert.That(task.Rules.Problem(p), Is.Null);
            Assert.That(p[^1], Is.EqualTo(AddTask.EqualsSign));
            Assert.That(p.ToArray().Count(t => t == AddTask.Plus), Is.EqualTo(1));
            Assert.That(task.IsHeldOut(p), Is.False);
        }
    }

    [Test]
    public void Held_Out_Prompts_Are_The_Held_Out_Share_Of_All_Sums_Distinct_And_Seeded()
    {
        var task = Add();
        var all = task.HeldOutPrompts(100_000, 1);
        // 100 × 100 sums of operands 0..99; about a tenth held out.
        Assert.That(all.Count, Is.InRange(800, 1200));
        Assert.That(all.Select(p => string.Join(',', p)).Distinct().Count(), Is.EqualTo(all.Count));
        Assert.That(all.All(p => task.IsHeldOut(p)), Is.True);
        Assert.That(task.HeldOutPrompts(50, 7), Is.EqualTo(task.HeldOutPrompts(50, 7)));
    }

    [Test]
    public void Its_Options_Are_Checked()
    {
        Assert.That(() => TaskRegistry.Create(new TaskOptions { Name = "add" }),
            Throws.TypeOf<ConfigException>().With.Property(nameof(ConfigException.Key)).EqualTo("task.add"));
        Assert.That(() => Add(minDigits: 3, maxDigits: 2), Throws.TypeOf<ConfigException>().With.Property(nameof(ConfigException.Key)).EqualTo("task.add.minDigits"));
        Assert.That(() => new TaskOptions { Add = new AddOptions() }.Validate(),
            Throws.TypeOf<ConfigException>().With.Message.Contains("null unless task.name is 'add'"));
    }
}
