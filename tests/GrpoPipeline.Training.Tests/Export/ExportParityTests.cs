using GrpoPipeline.Core;
using GrpoPipeline.Inference;
using GrpoPipeline.Training;
using GrpoPipeline.Training.Onnx;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;

namespace GrpoPipeline.Training.Tests.Export;

/// <summary>
/// The exported model computes what the TorchSharp policy computes: logits within 1e-5 and the same greedy response,
/// on many seeded random prompts, for a model trained in memory and for one exported from a run directory.
/// </summary>
[TestFixture, NonParallelizable]   // torch's global generator seeds the initial weights
public sealed class ExportParityTests
{
    /// <summary>The acceptance bound on |ORT − torch| for a trained seed policy.</summary>
    const double LogitTolerance = 1e-5;

    [Test]
    public void Random_Task_Export_Matches_TorchSharp_Logits_And_Argmax_On_2048_Prompts()
    {
        var model = ExportedModels.Random;
        Assert.That(model.WeightChange, Is.GreaterThan(0.1), "the compared weights are trained, not the initial random ones");
        AssertParity(model.State.Policy, model.OnnxPath, model.Length, model.Vocab,
            ExportedModels.RandomPrompts(2048, model.Length, model.Vocab, seed: 11), "random L=6 V=12", relative: false);
    }

    [Test]
    public void Lecture_Seed_Task_Export_Matches_TorchSharp_Logits_And_Argmax_On_1000_Prompts()
    {
        var model = ExportedModels.Lecture;
        Assert.That(model.LastReward, Is.GreaterThan(model.FirstReward + 0.5), "the policy should have learned");
        Assert.That((model.Length, model.Vocab), Is.EqualTo((3, 5)));
        AssertParity(model.State.Policy, model.OnnxPath, model.Length, model.Vocab,
            ExportedModels.RandomPrompts(1000, model.Length, model.Vocab, seed: 12), "lecture L=3 V=5", relative: false);
    }

    [Test]
    public void Export_From_A_Run_Directory_Matches_The_Latest_Checkpoint()
    {
        var runDir = ExportedModels.NewPath("run");
        var onnx = ExportedModels.NewPath("run.onnx");
        var config = new TrainConfig
        {
            RunName = "checkpoint-parity",
            Seed = 5,
            Epochs = 30,
            Task = new TaskOptions { Kind = TaskKind.Random, PromptLength = 4, VocabSize = 7, BatchSize = 16, HeldOutSize = 16 },
            Grpo = new GrpoOptions { LearningRate = 1e-2 },
            Run = new RunOptions { LogEvery = 1000, HeldOutEvery = 0, CheckpointEvery = 20, Threads = 1 },
        };
        using (var run = TrainingRun.StartNew(config, new RunDirectory(runDir), NullLogger.Instance))
            run.Train();

        var manifest = OnnxExporter.Export(runDir, onnx);
        Assert.That(manifest.Epoch, Is.EqualTo(30), "the run directory's latest checkpoint is the final one");

        using var state = Checkpoint.Load(Checkpoint.Resolve(runDir));
        using (var policy = OnnxPolicy.Load(onnx))
        using (Assert.EnterMultipleScope())
        {
            Assert.That(policy.Contract.Epoch, Is.EqualTo(30));
            Assert.That(policy.Contract.RunName, Is.EqualTo("checkpoint-parity"));
        }
        // This short lr=1e-2 run grows logits to |x| ≈ 58. Above 32 one float32 ulp is 3.8e-6, and ORT's and libtorch's
        // matmuls, summing in different orders, differ by up to 3 ulps (1.1e-5 at |x| ≈ 46, measured): an absolute
        // 1e-5 is below float resolution there, so this bound is relative above |x| = 1.
        AssertParity(state.Policy, onnx, 4, 7, ExportedModels.RandomPrompts(1024, 4, 7, seed: 13), "checkpoint L=4 V=7", relative: true);
    }

    // relative: false bounds |ORT − torch| by 1e-5 everywhere; true bounds it by 1e-5 · max(1, |logit|).
    static void AssertParity(TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor> torchPolicy,
        string onnxPath, int length, int vocab, long[][] prompts, string label, bool relative)
    {
        var (torchLogits, torchArgmax) = TrainedModel.TorchForward(torchPolicy, prompts, length);
        using var policy = OnnxPolicy.Load(onnxPath);
        var ortLogits = policy.LogitsBatch(prompts);
        var ortResponses = policy.RespondBatch(prompts).SelectMany(r => r).ToArray();

        Assert.That(ortLogits, Has.Length.EqualTo(prompts.Length * length * vocab));
        double maxDiff = 0, maxDiffAt = 0, maxScaled = 0, maxLogit = 0;
        for (int i = 0; i < ortLogits.Length; i++)
        {
            double diff = Math.Abs((double)ortLogits[i] - torchLogits[i]), magnitude = Math.Abs(torchLogits[i]);
            if (diff > maxDiff) (maxDiff, maxDiffAt) = (diff, magnitude);
            maxScaled = Math.Max(maxScaled, diff / Math.Max(1, magnitude));
            maxLogit = Math.Max(maxLogit, magnitude);
        }
        int mismatches = ortResponses.Where((token, i) => token != torchArgmax[i]).Count();
        TestContext.Out.WriteLine($"{label}: {prompts.Length} prompts, max |ORT − torch| = {maxDiff:E3} (at |logit| {maxDiffAt:F2}), " +
            $"max |ORT − torch| / max(1, |logit|) = {maxScaled:E3}, largest |logit| {maxLogit:F2}, argmax mismatches {mismatches}");

        using (Assert.EnterMultipleScope())
        {
            if (relative) Assert.That(maxScaled, Is.LessThanOrEqualTo(LogitTolerance), $"{label}: max |ORT − torch| / max(1, |logit|)");
            else Assert.That(maxDiff, Is.LessThanOrEqualTo(LogitTolerance), $"{label}: max |ORT − torch| logit");
            Assert.That(ortResponses, Is.EqualTo(torchArgmax), $"{label}: greedy responses equal torch.argmax");
            // The single-prompt paths run the same graph with batch 1.
            for (int b = 0; b < 16; b++)
            {
                Assert.That(policy.Respond(prompts[b]), Is.EqualTo(torchArgmax.AsSpan(b * length, length).ToArray()), $"{label}: Sort(prompt {b})");
                var expected = torchLogits.AsSpan(b * length * vocab, length * vocab).ToArray();
                double bound = relative ? LogitTolerance * Math.Max(1, expected.Max(MathF.Abs)) : LogitTolerance;
                Assert.That(policy.Logits(prompts[b]), Is.EqualTo(expected).Within(bound), $"{label}: Logits(prompt {b})");
            }
        }
    }
}
