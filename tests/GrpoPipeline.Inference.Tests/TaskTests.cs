using GrpoPipeline.Core;
using GrpoPipeline.Tests;
using NUnit.Framework;

namespace GrpoPipeline.Inference.Tests;

/// <summary>
/// A model carries its task: Inference rebuilds a registered one from the metadata for the prompt check and the
/// rewards, answers without rewards for a task it does not know, and still loads models exported before 0.3.
/// </summary>
[TestFixture]
public sealed class TaskTests
{
    [Test]
    public void A_Sorting_Model_Carries_Its_Task_And_Scores_With_Its_Components()
    {
        using var policy = OnnxPolicy.Load(Fixtures.Lecture);
        var c = policy.Contract;
        Assert.That((c.Version, c.TaskName, c.HasRewards, c.RewardsUnavailable), Is.EqualTo((OnnxContract.Factorised.Version, "sort", true, (string?)null)));
        Assert.That(c.Task, Is.TypeOf<SortTask>());
        Assert.That(c.Task!.Rules, Is.EqualTo(c.Prompts));
        Assert.That(c.Metadata, Does.ContainKey(OnnxContract.Metadata.TaskOptions).And.Not.ContainKey(OnnxContract.Metadata.HeldOutSplit));
        Assert.That(policy.Score([3, 1, 2], [1, 2, 3])!.Components.Keys, Is.EqualTo(new[] { "inclusionOrdering", "sortDistance", "exact" }));
    }

    [Test]
    public void Models_Exported_Before_0_3_Still_Load_And_Answer_Alike()
    {
        using var legacy = OnnxPolicy.Load(Fixtures.LegacySorter);
        using var current = OnnxPolicy.Load(Fixtures.Lecture);
        Assert.That(legacy.Contract.Metadata[OnnxContract.Metadata.Contract], Is.EqualTo(OnnxContract.LegacySorterVersion));
        Assert.That(legacy.Contract.Version, Is.EqualTo(OnnxContract.Factorised.Version), "sorter/1 is read as factorised/1");
        Assert.That((legacy.Contract.TaskName, legacy.Contract.HasRewards), Is.EqualTo(("sort", true)));
        foreach (var prompt in new long[][] { [3, 1, 2], [4, 0, 2], [1, 1, 0] })
        {
            Assert.That(legacy.Respond(prompt), Is.EqualTo(current.Respond(prompt)), "the same weights, only the metadata moved");
            Assert.That(legacy.Score(prompt, legacy.Respond(prompt)), Is.EqualTo(current.Score(prompt, current.Respond(prompt))));
        }

        using var decoder = OnnxPolicy.Load(Fixtures.LegacyDecoder);
        Assert.That(decoder.Contract.Metadata, Does.ContainKey(OnnxContract.Metadata.HeldOutSplit).And.Not.ContainKey(OnnxContract.Metadata.TaskOptions));
        Assert.That(decoder.Contract.Task!.Options.MaxLength, Is.EqualTo(6), "the task options came from grpo.heldout_split");
        Assert.That(decoder.Contract.MaxResponseLength, Is.EqualTo(7));
    }

    [Test]
    public void An_Addition_Model_Takes_Only_Addition_Prompts_And_Answers_Within_Its_Longest_Response()
    {
        using var policy = OnnxPolicy.Load(Fixtures.Add);
        var c = policy.Contract;
        Assert.That((c.TaskName, c.IsDecoder, c.VocabSize, c.Prompts, c.MaxResponseLength), Is.EqualTo(("add", true, 12, new PromptRules(4, 6, 12), 4)),
            "a + b = of 1..2 digits; a sum of up to 3 digits, and EOS");
        Assert.That(c.Task, Is.TypeOf<AddTask>());

        long[] prompt = [4, 7, AddTask.Plus, 9, AddTask.EqualsSign];   // 47 + 9 = 56
        var response = policy.Respond(prompt);
        Assert.That(response, Has.Length.LessThanOrEqualTo(4).And.All.InRange(0L, 11L));
        var score = policy.Score(prompt, [6, 5])!;                       // least significant first
        Assert.That((score.Exact, score["digitShare"], score["exact"]), Is.EqualTo((true, 1.0, 1.0)));

        Assert.That(() => policy.Respond([4, 7, 9, AddTask.EqualsSign]), Throws.ArgumentException.With.Message.EqualTo("prompt has no '+' (token 10); an addition prompt is a + b = in digit tokens (Parameter 'prompt')"));
        Assert.That(() => policy.Respond([0, 7, AddTask.Plus, 9, AddTask.EqualsSign]), Throws.ArgumentException.With.Message.StartsWith("the operand at index 0 has a leading zero"));
        Assert.That(() => policy.Respond([4, AddTask.Plus, 9, AddTask.Plus]), Throws.ArgumentException.With.Message.StartsWith("token at index 3 is +; an addition prompt ends with '='"));
        Assert.That(() => policy.Respond([4, AddTask.Plus, 1, 2, 3, AddTask.EqualsSign]), Throws.ArgumentException.With.Message.StartsWith("the operand at index 2 has 3 digits; this model adds numbers of 1..2 digits"));
        Assert.That(() => policy.Respond([4, AddTask.Plus, AddTask.EqualsSign, 9, AddTask.EqualsSign]), Throws.ArgumentException.With.Message.StartsWith("token at index 2 is =; an operand holds digits 0..9 only"));
    }

    [Test, NonParallelizable]
    public void A_Model_Of_An_Unregistered_Task_Answers_Without_Rewards_Until_The_App_Registers_It()
    {
        const string name = "fixture-unregistered";
        Assert.That(TaskRegistry.IsRegistered(name), Is.False, "premise: nothing in this test process registered it before this test");
        using (var policy = OnnxPolicy.Load(Fixtures.Unregistered))
        {
            var c = policy.Contract;
            Assert.That((c.TaskName, c.HasRewards, c.Task), Is.EqualTo((name, false, (VerifiableTask?)null)));
            Assert.That(c.RewardsUnavailable, Does.Contain($"task '{name}' is not registered").And.Contain("TaskRegistry.Register"));
            Assert.That(policy.Respond([1, 2, 3]), Has.Length.LessThanOrEqualTo(5), "it still answers");
            Assert.That(policy.Score([1, 2, 3], [3, 2, 1]), Is.Null);
            Assert.That(() => policy.Respond([1, 2, 3, 4, 5]), Throws.ArgumentException.With.Message.StartsWith("prompt has length 5; this model takes prompts of length 1..4"),
                "the metadata's lengths and vocabulary still hold");
        }

        TaskRegistry.Register(name, options => new ReverseTask(options));
        using var registered = OnnxPolicy.Load(Fixtures.Unregistered);
        Assert.That(registered.Contract.HasRewards, Is.True);
        Assert.That(registered.Score([1, 2, 3], [3, 2, 1]), Is.EqualTo(new RewardScore(true, new Dictionary<string, double> { ["positionShare"] = 1, ["exact"] = 1 })));
    }
}
