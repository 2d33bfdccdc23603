using GrpoPipeline.Core;
using GrpoPipeline.Inference;
using GrpoPipeline.Training;
using NUnit.Framework;

namespace GrpoPipeline.Training.Tests.Export;

/// <summary>The transformer policy exports to ONNX (opset 17) and ORT reproduces TorchSharp within 1e-4.</summary>
[TestFixture, NonParallelizable]   // torch's global generator seeds the initial weights
public sealed class TransformerParityTests
{
    [Test]
    public void Transformer_Export_Matches_TorchSharp_Logits_Within_1e4_And_Argmax_On_1000_Prompts()
    {
        var config = new TrainConfig
        {
            RunName = "transformer-parity",
            Seed = 3,
            Epochs = 40,
            Task = new TaskOptions { Kind = TaskKind.Random, PromptLength = 5, VocabSize = 10, BatchSize = 32, HeldOutSize = 0 },
            Rewards = new RewardWeights { { "inclusionOrdering", 0 }, { "sortDistance", 1 } },
            Policy = new PolicyOptions { Kind = PolicyKind.Transformer, DModel = 32, Heads = 4, Layers = 2, MlpDim = 64 },
            Grpo = new GrpoOptions { GroupSize = 8, InnerSteps = 2, KlCoef = 0, ClipLow = 0.2, ClipHigh = 0.2, MaxGradNorm = 1 },
        };
        using var model = TrainedModel.Train(config, ExportedModels.NewPath("transformer.onnx"));
        Assert.That(model.LastReward, Is.GreaterThan(model.FirstReward), "the compared weights are trained, not the initial ones");

        var prompts = ExportedModels.RandomPrompts(1000, 5, 10, seed: 21);
        var (torchLogits, torchArgmax) = model.Torch(prompts);
        using var policy = OnnxPolicy.Load(model.OnnxPath);
        var ortLogits = policy.LogitsBatch(prompts);

        double maxDiff = torchLogits.Select((t, i) => Math.Abs((double)t - ortLogits[i])).Max();
        TestContext.Out.WriteLine($"transformer: max |ORT − torch| = {maxDiff:E3} over {ortLogits.Length} logits");
        Assert.That(policy.Contract.PolicyKind, Is.EqualTo("transformer"));
        Assert.That(maxDiff, Is.LessThanOrEqualTo(1e-4));
        Assert.That(policy.RespondBatch(prompts).SelectMany(r => r).ToArray(), Is.EqualTo(torchArgmax));
    }
}
