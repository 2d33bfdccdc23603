using System.Text.Json;
using GrpoPipeline.Core;
using GrpoPipeline.Inference;
using GrpoPipeline.Training;
using NUnit.Framework;

namespace GrpoPipeline.Training.Tests.Export;

/// <summary>The exported model carries the contract's metadata, and <see cref="OnnxPolicy"/> exposes it.</summary>
[TestFixture]
public sealed class MetadataTests
{
    [Test]
    public void Exported_Model_Carries_Every_Contract_Metadata_Key()
    {
        var model = ExportedModels.Random;
        var config = model.State.Config;
        using var policy = OnnxPolicy.Load(model.OnnxPath);
        var meta = policy.Contract.Metadata;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(meta[OnnxContract.Metadata.Contract], Is.EqualTo(OnnxContract.Factorised.Version));
            Assert.That(meta[OnnxContract.Metadata.Task], Is.EqualTo("sort"));
            Assert.That(meta[OnnxContract.Metadata.Policy], Is.EqualTo("seed"));
            Assert.That(meta[OnnxContract.Metadata.VocabSize], Is.EqualTo("12"));
            Assert.That(meta[OnnxContract.Metadata.PromptLength], Is.EqualTo("6"));
            Assert.That(meta[OnnxContract.Metadata.ResponseLength], Is.EqualTo("6"));
            Assert.That(meta[OnnxContract.Metadata.Run], Is.EqualTo("parity-random"));
            Assert.That(meta[OnnxContract.Metadata.Epoch], Is.EqualTo("300"));
            Assert.That(meta.ContainsKey(OnnxContract.Metadata.Config), Is.True);
            Assert.That(meta.ContainsKey(OnnxContract.Metadata.TaskOptions), Is.True);
        }
    }

    [Test]
    public void Config_Metadata_Parses_Back_To_The_Training_Config()
    {
        var model = ExportedModels.Random;
        using var policy = OnnxPolicy.Load(model.OnnxPath);
        var parsed = TrainConfig.Parse(policy.Contract.Metadata[OnnxContract.Metadata.Config], "grpo.config");
        Assert.That(parsed.ToJson(), Is.EqualTo(model.State.Config.ToJson()));
    }

    [Test]
    public void HeldOut_Split_Metadata_Regenerates_The_Same_Split()
    {
        var model = ExportedModels.Random;
        using var policy = OnnxPolicy.Load(model.OnnxPath);
        var json = policy.Contract.Metadata[OnnxContract.Metadata.TaskOptions];
        var task = JsonSerializer.Deserialize<TaskOptions>(json, TrainConfig.Json)!;
        var original = model.State.Config.Task;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(JsonSerializer.Serialize(task, TrainConfig.Json), Is.EqualTo(JsonSerializer.Serialize(original, TrainConfig.Json)));
            Assert.That((task.Kind, task.Length, task.Vocab, task.HeldOutFraction, task.SplitSalt),
                Is.EqualTo((original.Kind, original.Length, original.Vocab, original.HeldOutFraction, original.SplitSalt)));
            // Anyone holding the model can tell which prompts training never saw.
            var probes = ExportedModels.RandomPrompts(500, 6, 12, seed: 21);
            var fromModel = new SortTask(task);
            var fromTraining = new SortTask(original);
            Assert.That(probes.Select(p => fromModel.IsHeldOut(p)), Is.EqualTo(probes.Select(p => fromTraining.IsHeldOut(p))));
        }
    }

    [Test]
    public void Policy_Properties_Match_The_Metadata()
    {
        using var random = OnnxPolicy.Load(ExportedModels.Random.OnnxPath);
        using var lecture = OnnxPolicy.Load(ExportedModels.Lecture.OnnxPath);
        using (Assert.EnterMultipleScope())
        {
            Assert.That((random.Contract.PolicyKind, random.Contract.RunName, random.Contract.Epoch), Is.EqualTo(("seed", "parity-random", 300)));
            Assert.That((random.PromptLength, random.VocabSize), Is.EqualTo((6, 12)));
            Assert.That((lecture.Contract.PolicyKind, lecture.Contract.RunName, lecture.Contract.Epoch), Is.EqualTo(("seed", "parity-lecture", 300)));
            Assert.That((lecture.PromptLength, lecture.VocabSize), Is.EqualTo((3, 5)));
            Assert.That(random.Contract.Path, Is.EqualTo(ExportedModels.Random.OnnxPath));
            Assert.That(random.Contract.Version, Is.EqualTo("factorised/1"));
        }
    }
}
