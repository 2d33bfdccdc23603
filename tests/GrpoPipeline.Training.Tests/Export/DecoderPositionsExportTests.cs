using GrpoPipeline.Core;
using GrpoPipeline.Inference;
using GrpoPipeline.Training.Policies;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GrpoPipeline.Training.Tests.Export;

/// <summary>
/// A decoder whose positions count from SEP (<c>policy.positions</c> <c>from_sep</c> or <c>mirrored</c>) exports to the
/// same decoder/1 contract with <c>grpo.positions</c> in its metadata: the Inference library's decode loop numbers the
/// positions the model's way and the graph folds them as the policy does, so greedy responses equal TorchSharp's on
/// prompts of every length.
/// </summary>
[TestFixture, NonParallelizable]   // torch's global generator seeds the initial weights
public sealed class DecoderPositionsExportTests
{
    static TrainConfig Config(DecoderPositions positions) => new()
    {
        RunName = $"positions-{positions}",
        Seed = 6,
        Epochs = 40,
        Task = new TaskOptions { Name = ReverseTask.TaskName, Kind = TaskKind.Variable, MinLength = 1, MaxLength = 6, VocabSize = 8, BatchSize = 32, HeldOutSize = 400 },
        Rewards = new RewardWeights { { "positionShare", 1 }, { "exact", 1 } },
        Policy = new PolicyOptions { Kind = PolicyKind.Decoder, DModel = 32, Heads = 4, Layers = 2, MlpDim = 64, Positions = positions },
        Grpo = new GrpoOptions { GroupSize = 8, InnerSteps = 2, KlCoef = 0, ClipLow = 0.2, ClipHigh = 0.2, LearningRate = 3e-3, MaxGradNorm = 1 },
        Run = new RunOptions { Threads = 1 },
    };

    [TestCase(DecoderPositions.FromSep, "from_sep")]
    [TestCase(DecoderPositions.Mirrored, "mirrored")]
    public void Greedy_Decodes_Of_The_Exported_Model_Equal_TorchSharp_On_Every_Length(DecoderPositions positions, string metadata)
    {
        var config = Config(positions);
        using var model = TrainedModel.Train(config, ExportedModels.NewPath($"decoder-{metadata}.onnx"));
        var policy = (DecoderPolicy)model.State.Policy;
        var prompts = model.State.Task.HeldOutPrompts();
        Assert.That(prompts.Select(p => p.Length).Distinct().Count(), Is.EqualTo(6), "premise: every length 1..6");

        var special = config.Task.Special;
        var torchResponses = new TokenRows(prompts.Count, config.Task.MaxResponseLength, special.Pad);
        using (var scope = NewDisposeScope())
            ResponseDecoder.Decode(policy, TokenRows.From(prompts, special.Pad), 1, config.Task.MaxResponseLength, 1.0, generator: null, torchResponses);

        using var onnx = OnnxPolicy.Load(model.OnnxPath);
        Assert.That(onnx.Contract.Positions, Is.EqualTo(metadata));
        Assert.That(onnx.Contract.Metadata[OnnxContract.Metadata.Positions], Is.EqualTo(metadata));
        var ortResponses = onnx.RespondBatch(prompts);
        var mismatches = Enumerable.Range(0, prompts.Count).Where(i => !ortResponses[i].SequenceEqual(torchResponses[i].ToArray())).ToList();
        int exact = ortResponses.Where((r, i) => model.State.Task.IsExact(prompts[i], r)).Count();
        TestContext.Out.WriteLine($"{metadata}: {prompts.Count - mismatches.Count}/{prompts.Count} identical, {exact} exact");
        Assert.That(ortResponses.Select(r => r.Length).Distinct().Count(), Is.GreaterThanOrEqualTo(3), "responses of several lengths: the loop's positions past SEP are compared");
        Assert.That(mismatches, Is.Empty, mismatches.Count == 0 ? "" :
            $"first: [{string.Join(",", prompts[mismatches[0]])}] torch [{string.Join(",", torchResponses[mismatches[0]].ToArray())}] ORT [{string.Join(",", ortResponses[mismatches[0]])}]");
    }

    [Test]
    public void A_Default_Decoder_Writes_No_Positions_Key()
    {
        var config = Config(DecoderPositions.FromPromptStart) with { Epochs = 1 };
        using var model = TrainedModel.Train(config, ExportedModels.NewPath("decoder-default.onnx"));
        using var onnx = OnnxPolicy.Load(model.OnnxPath);
        Assert.That(onnx.Contract.Metadata, Does.Not.ContainKey(OnnxContract.Metadata.Positions));
        Assert.That(onnx.Contract.Positions, Is.EqualTo(OnnxContract.PositionsFromPromptStart));
    }
}
