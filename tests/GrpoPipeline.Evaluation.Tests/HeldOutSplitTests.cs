using System.Text.Json;
using GrpoPipeline.Core;
using GrpoPipeline.Inference;
using GrpoPipeline.Tests;
using NUnit.Framework;

namespace GrpoPipeline.Evaluation.Tests;

/// <summary>
/// The split rule travels in the model's metadata, parses without the trainer, and regenerates held-out prompts that
/// the trainer never samples.
/// </summary>
[TestFixture]
public sealed class HeldOutSplitTests
{
    static TaskOptions SplitOf(string model)
    {
        using var policy = OnnxPolicy.Load(model);
        return HeldOutSplit.FromMetadata(policy.Contract.Metadata, model);
    }

    [Test]
    public void The_Split_In_The_Metadata_Parses_Back_To_The_Training_Task()
    {
        var split = SplitOf(TestModels.Trained);
        var task = TestModels.RandomTask;
        Assert.That(split.Kind, Is.EqualTo(TaskKind.Random));
        Assert.That((split.PromptLength, split.VocabSize, split.BatchSize), Is.EqualTo((task.PromptLength, task.VocabSize, task.BatchSize)));
        Assert.That((split.HeldOutFraction, split.SplitSalt), Is.EqualTo((task.HeldOutFraction, task.SplitSalt)));
        Assert.That((split.HeldOutSize, split.HeldOutSeed), Is.EqualTo((task.HeldOutSize, task.HeldOutSeed)));
        Assert.That(split.Prompts, Is.EqualTo(task.Prompts));
    }

    [Test]
    public void The_Evaluation_Json_Options_Read_What_The_Trainer_Writes()
    {
        var task = new TaskOptions { Kind = TaskKind.Random, PromptLength = 7, VocabSize = 9, HeldOutFraction = 0.2, SplitSalt = 42, HeldOutSeed = 9 };
        var json = JsonSerializer.Serialize(task, ConfigJson.Options);
        Assert.That(json, Does.Contain("\"kind\": \"random\"").And.Contain("\"splitSalt\": 42"));
        var parsed = HeldOutSplit.Parse(json, "test");
        Assert.That(new SortTask(parsed).HeldOutPrompts(50, 1), Is.EqualTo(new SortTask(task).HeldOutPrompts(50, 1)));
    }

    [TestCase("""{"kind":"Random"}""", "Random")]
    [TestCase("""{"kind":1}""", "kind")]
    [TestCase("""{"kind":"random","promptLenght":5}""", "promptLenght")]
    [TestCase("""{"kind":"random","promptLength":1}""", "task.promptLength")]
    [TestCase("""not json""", "not valid task options")]
    public void A_Bad_Split_Is_Refused_With_The_Reason(string json, string reason) =>
        Assert.That(() => HeldOutSplit.Parse(json, "m.onnx"),
            Throws.TypeOf<EvaluationException>().With.Message.Contains("m.onnx").And.Message.Contains(reason));

    [Test]
    public void Held_Out_Prompts_Never_Appear_In_Training_Batches()
    {
        var split = SplitOf(TestModels.Trained);
        var heldOut = HeldOutSplit.Prompts(split, 100_000, seed: 1, "trained.onnx");   // all of them: the space is 6^4
        var heldOutKeys = heldOut.Select(Key).ToHashSet();

        var task = new SortTask(TestModels.RandomTask);
        var batch = task.NewBatch();
        var rng = new Rng(123);
        var trained = new HashSet<string>();
        for (int epoch = 0; epoch < 2000; epoch++)
        {
            task.SampleTrainingBatch(batch, rng);
            for (int b = 0; b < task.BatchSize; b++) trained.Add(Key(batch[b].ToArray()));
        }

        int space = 1296;
        Assert.That(heldOut, Has.Count.InRange(60, 200), "about 10% of the 1296 prompts are held out");
        Assert.That(trained.Count + heldOutKeys.Count, Is.EqualTo(space), "2000 batches reach every training prompt, so disjointness is tested on all of them");
        Assert.That(trained.Overlaps(heldOutKeys), Is.False);
    }

    [Test]
    public void The_Same_Seed_Gives_The_Same_Prompts_And_Another_Seed_Another_Choice()
    {
        var split = SplitOf(TestModels.Trained);
        var a = HeldOutSplit.Prompts(split, 20, 1, "m");
        Assert.That(HeldOutSplit.Prompts(split, 20, 1, "m"), Is.EqualTo(a));
        Assert.That(HeldOutSplit.Prompts(split, 20, 2, "m"), Is.Not.EqualTo(a));
    }

    [Test]
    public void A_Fixed_Task_Holds_Out_Every_Other_Prompt_Of_Its_Length_And_Vocab()
    {
        var lecture = new TaskOptions();   // the lecture's three prompts: L=3, V=5
        var parsed = HeldOutSplit.Parse(JsonSerializer.Serialize(lecture, ConfigJson.Options), "lecture");
        var heldOut = HeldOutSplit.Prompts(parsed, 1000, 1, "lecture");
        Assert.That(heldOut, Has.Count.EqualTo(5 * 5 * 5 - 3));
        Assert.That(heldOut.Select(Key), Has.None.AnyOf(TaskOptions.LecturePrompts.Select(Key).ToArray()));
    }

    [Test]
    public void Asking_A_Sparse_Split_For_More_Than_It_Holds_Fails_Instead_Of_Looping()
    {
        var sparse = new TaskOptions { Kind = TaskKind.Random, PromptLength = 3, VocabSize = 128, HeldOutFraction = 0.001 };   // ~2,097 held out
        Assert.That(() => HeldOutSplit.Prompts(sparse, 100_000, 1, "sparse.onnx"),
            Throws.TypeOf<EvaluationException>().With.Message.Contains("sparse.onnx").And.Message.Contains("at most half"));
    }

    [Test]
    public void A_Variable_Split_Spreads_Its_Prompts_Evenly_Over_Its_Lengths_All_Held_Out_And_Distinct()
    {
        var split = SplitOf(Fixtures.Decoder);
        Assert.That((split.Kind, split.MinLength, split.MaxLength, split.VocabSize), Is.EqualTo((TaskKind.Variable, 1, 6, 8)));
        var prompts = HeldOutSplit.Prompts(split, 120, seed: 1, "decoder.onnx");

        var perLength = prompts.GroupBy(p => p.Length).ToDictionary(g => g.Key, g => g.Count());
        Assert.That(perLength.Keys, Is.SubsetOf(Enumerable.Range(1, 6)));
        Assert.That(perLength.Values, Has.All.LessThanOrEqualTo(20), "120 over 6 lengths");
        Assert.That(new[] { perLength[4], perLength[5], perLength[6] }, Has.All.EqualTo(20), "long lengths hold out more than their share");
        Assert.That(perLength.GetValueOrDefault(1), Is.LessThan(8), "length 1 has 8 prompts, about 10% held out: it gives all it has");
        var task = new SortTask(split);
        Assert.That(prompts.All(p => task.IsHeldOut(p)), Is.True);
        Assert.That(prompts.Select(Key).Distinct().Count(), Is.EqualTo(prompts.Count));
    }

    [Test]
    public void Asking_A_Sparse_Variable_Split_For_More_Than_Its_Lengths_Hold_Fails_Naming_The_Length()
    {
        // Lengths 2..4 of V=128 at 0.1%: length 2 is enumerated, length 3 holds out ~2,097 of 2.1M prompts, length 4 many more.
        var sparse = new TaskOptions { Kind = TaskKind.Variable, MinLength = 2, MaxLength = 4, VocabSize = 128, HeldOutFraction = 0.001 };
        Assert.That(HeldOutSplit.MaxDrawable(sparse), Is.EqualTo(1048 * 3));
        Assert.That(() => HeldOutSplit.Prompts(sparse, 10_000, 1, "sparse.onnx"),
            Throws.TypeOf<EvaluationException>().With.Message.Contains("sparse.onnx").And.Message.Contains("length 3").And.Message.Contains("at most half"));
        Assert.That(HeldOutSplit.Prompts(sparse, 30, 1, "sparse.onnx").Select(p => p.Length), Is.EqualTo(Enumerable.Repeat(2, 10).Concat(Enumerable.Repeat(3, 10)).Concat(Enumerable.Repeat(4, 10))));
    }

    static string Key(long[] prompt) => string.Join(',', prompt);
}
