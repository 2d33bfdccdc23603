namespace GrpoPipeline.Core.Tests;

/// <summary>
/// The variable-length task: prompt lengths uniform over minLength..maxLength, special tokens after the values, a
/// held-out split in which the length takes part, and held-out prompts spread evenly over the lengths.
/// </summary>
[TestFixture]
public sealed class VariableTaskTests
{
    const int V = 16;
    static TaskOptions Options(int min = 1, int max = 8) => new()
    {
        Kind = TaskKind.Variable, MinLength = min, MaxLength = max, VocabSize = V, BatchSize = 64, HeldOutSize = 800,
    };

    [Test]
    public void Special_Tokens_Follow_The_Values()
    {
        var special = Options().Special;
        Assert.That((special.Sep, special.Eos, special.Pad), Is.EqualTo((16L, 17L, 18L)));
        Assert.That((SpecialTokens.InputVocab(V), SpecialTokens.OutputVocab(V)), Is.EqualTo((19, 17)));
        Assert.That((Options().MinPromptLength, Options().MaxPromptLength, Options().MaxResponseLength), Is.EqualTo((1, 8, 9)));
    }

    [Test]
    public void Training_Prompts_Have_Uniform_Lengths_In_Range_Padded_And_Never_HeldOut()
    {
        var task = new SortTask(Options(2, 6));
        var batch = task.NewBatch();
        var rng = new Rng(3);
        var lengths = new int[7];
        for (int epoch = 0; epoch < 200; epoch++)
        {
            task.SampleTrainingBatch(batch, rng);
            for (int b = 0; b < batch.Count; b++)
            {
                lengths[batch.Lengths[b]]++;
                Assert.That(batch[b].ToArray(), Is.All.InRange(0L, V - 1L));
                Assert.That(batch.Room(b)[batch.Lengths[b]..].ToArray(), Is.All.EqualTo(16L + 2), "rows are padded with PAD");
                Assert.That(task.IsHeldOut(batch[b]), Is.False);
            }
        }
        Assert.That(lengths[0] + lengths[1], Is.Zero);
        // 12,800 draws over 5 lengths: 2,560 expected each, σ ≈ 45.
        foreach (var count in lengths[2..]) Assert.That(count, Is.InRange(2300, 2820));
    }

    [Test]
    public void The_Split_Hash_Starts_From_The_Salt_Mixed_With_The_Length()
    {
        var options = Options();
        var task = new SortTask(options);
        ulong threshold = (ulong)(options.HeldOutFraction * 18446744073709551616.0);
        var rng = new Rng(5);
        for (int i = 0; i < 2000; i++)
        {
            var prompt = Enumerable.Range(0, 1 + rng.NextInt(8)).Select(_ => (long)rng.NextInt(V)).ToArray();
            // h = mix(salt ^ n), then per token h = mix((h ^ t) + 0x9E3779B97F4A7C15): the README's formula.
            ulong h = Rng.Mix(options.SplitSalt ^ (ulong)prompt.Length);
            foreach (var t in prompt) h = Rng.Mix((h ^ (ulong)t) + 0x9E3779B97F4A7C15UL);
            Assert.That(task.IsHeldOut(prompt), Is.EqualTo(h < threshold));
        }
        // [3] and [3, 0] are different prompts with independent draws; across many pairs some disagree.
        int disagree = Enumerable.Range(0, V).Count(t => task.IsHeldOut([t]) != task.IsHeldOut([t, 0]));
        Assert.That(disagree, Is.GreaterThan(0));
    }

    [Test]
    public void HeldOut_Prompts_Are_Spread_Evenly_Over_The_Lengths()
    {
        var task = new SortTask(Options());
        var prompts = task.HeldOutPrompts(800, seed: 1);
        var byLength = prompts.GroupBy(p => p.Length).ToDictionary(g => g.Key, g => g.Count());

        // 100 per length, except where the split holds fewer: length 1 has 16 prompts (about 1.6 held out), length 2
        // has 256 (about 26).
        Assert.That(byLength.Keys.Order(), Is.SubsetOf(Enumerable.Range(1, 8)));
        foreach (var length in Enumerable.Range(3, 6)) Assert.That(byLength[length], Is.EqualTo(100), $"length {length}");
        Assert.That(byLength.GetValueOrDefault(2), Is.InRange(10, 45));
        Assert.That(prompts, Has.All.Matches<long[]>(p => task.IsHeldOut(p)));
        Assert.That(prompts.Select(p => string.Join(',', p)).Distinct().Count(), Is.EqualTo(prompts.Count));
        Assert.That(task.HeldOutPrompts(800, seed: 1).Select(p => string.Join(',', p)), Is.EqualTo(prompts.Select(p => string.Join(',', p))), "seeded");
    }

    [TestCase(5, 3, "task.minLength", "1..maxLength (3)")]
    [TestCase(0, 3, "task.minLength", "1..maxLength (3)")]
    [TestCase(1, 33, "task.maxLength", "1..32")]
    public void Bad_Lengths_Name_The_Key_The_Value_And_The_Range(int min, int max, string key, string allowed)
    {
        var e = Assert.Throws<ConfigException>(() => Options(min, max).Validate());
        Assert.That(e!.Key, Is.EqualTo(key));
        Assert.That(e.Message, Does.Contain(allowed));
    }

    [Test]
    public void A_Split_That_Holds_Out_Every_Prompt_Of_A_Length_Is_Refused()
    {
        // V=2 has two prompts of length 1; find a salt whose split (fraction 0.5) holds out both.
        var options = new TaskOptions { Kind = TaskKind.Variable, MinLength = 1, MaxLength = 3, VocabSize = 2, HeldOutFraction = 0.5 };
        ulong salt = Enumerable.Range(0, 1000).Select(s => (ulong)s)
            .First(s => new[] { 0L, 1L }.All(t => SortTask.Hash([t], Rng.Mix(s ^ 1)) < ulong.MaxValue / 2));
        var e = Assert.Throws<ConfigException>(() => new SortTask(options with { SplitSalt = salt }));
        Assert.That(e!.Key, Is.EqualTo("task.heldOutFraction"));
        Assert.That(e.Message, Does.Contain("every prompt of length 1"));
    }
}
