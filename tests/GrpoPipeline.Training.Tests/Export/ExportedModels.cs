using GrpoPipeline.Core;
using GrpoPipeline.Training.Onnx;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GrpoPipeline.Training.Tests.Export;

/// <summary>
/// Trains the two policies the export tests share once per test run, exports them to ONNX in a temp folder, and keeps
/// the TorchSharp state alive so parity tests can compare ONNX Runtime against it.
/// </summary>
[SetUpFixture]
public sealed class ExportedModels
{
    /// <summary>A random-prompt task, L=6, V=12, D=16, trained 300 epochs.</summary>
    public static TrainedModel Random { get; private set; } = null!;
    /// <summary>The lecture's seed task (three fixed prompts, L=3, V=5), trained 300 epochs.</summary>
    public static TrainedModel Lecture { get; private set; } = null!;
    /// <summary>A folder deleted when the run ends; tests put their own files under it.</summary>
    public static string TempDir { get; private set; } = null!;

    public static TrainConfig RandomConfig => new()
    {
        RunName = "parity-random",
        Seed = 3,
        Epochs = 300,
        Task = new TaskOptions { Kind = TaskKind.Random, PromptLength = 6, VocabSize = 12, BatchSize = 32, HeldOutSize = 0 },
        Policy = new PolicyOptions { EmbeddingDim = 16 },
        Grpo = new GrpoOptions { LearningRate = 1e-2 },
        Run = new RunOptions { Threads = 1 },
    };

    public static TrainConfig LectureConfig => new()
    {
        RunName = "parity-lecture",
        Epochs = 300,
        Task = new TaskOptions { HeldOutSize = 0 },
        Grpo = new GrpoOptions { LearningRate = 1e-2 },
        Run = new RunOptions { Threads = 1 },
    };

    [OneTimeSetUp]
    public void TrainAndExport()
    {
        TempDir = Path.Combine(Path.GetTempPath(), $"grpo-export-{Guid.NewGuid():N}");
        Directory.CreateDirectory(TempDir);
        Random = TrainedModel.Train(RandomConfig, Path.Combine(TempDir, "random.onnx"));
        Lecture = TrainedModel.Train(LectureConfig, Path.Combine(TempDir, "lecture.onnx"));
    }

    [OneTimeTearDown]
    public void CleanUp()
    {
        Random?.Dispose();
        Lecture?.Dispose();
        if (TempDir is not null && Directory.Exists(TempDir)) Directory.Delete(TempDir, recursive: true);
    }

    /// <summary>A fresh path under <see cref="TempDir"/>.</summary>
    public static string NewPath(string name) => Path.Combine(TempDir, $"{Guid.NewGuid():N}-{name}");

    /// <summary><paramref name="count"/> uniform prompts of length <paramref name="length"/> over 0..vocab-1.</summary>
    public static long[][] RandomPrompts(int count, int length, int vocab, ulong seed)
    {
        var rng = new Rng(seed);
        var prompts = new long[count][];
        for (int b = 0; b < count; b++)
        {
            prompts[b] = new long[length];
            for (int i = 0; i < length; i++) prompts[b][i] = rng.NextInt(vocab);
        }
        return prompts;
    }
}

/// <summary>A policy trained in memory, its TorchSharp state and its exported ONNX file.</summary>
public sealed class TrainedModel : IDisposable
{
    readonly GrpoTrainer _trainer;

    TrainedModel(GrpoTrainer trainer, string onnxPath, double firstReward, double lastReward, double weightChange)
    {
        _trainer = trainer;
        OnnxPath = onnxPath;
        FirstReward = firstReward;
        LastReward = lastReward;
        WeightChange = weightChange;
    }

    public TrainingState State => _trainer.State;
    public string OnnxPath { get; }
    public int Length => State.Shape.PromptLength;
    public int Vocab => State.Shape.Vocab;
    /// <summary>Mean training reward over the first 20 epochs.</summary>
    public double FirstReward { get; }
    /// <summary>Mean training reward over the last 20 epochs: above <see cref="FirstReward"/> once the policy learned.</summary>
    public double LastReward { get; }
    /// <summary>Largest |w_trained − w_initial| over all weights: well above 0 once training moved them.</summary>
    public double WeightChange { get; }

    public static TrainedModel Train(TrainConfig config, string onnxPath)
    {
        var trainer = new GrpoTrainer(TrainingState.Create(config));
        var initial = trainer.State.Policy.parameters().Select(p => p.detach().clone()).ToList();
        var rewards = new double[config.Epochs];
        for (int e = 0; e < config.Epochs; e++) rewards[e] = trainer.RunEpoch()[MetricKeys.RewardMean];
        var state = trainer.State;
        double change = state.Policy.parameters().Zip(initial, (p, p0) => (p - p0).abs().max().item<float>()).Max();
        foreach (var p0 in initial) p0.Dispose();
        OnnxExporter.Export(state.Policy, state.Shape, state.Config, state.Epoch, onnxPath);
        return new TrainedModel(trainer, onnxPath, rewards.Take(20).Average(), rewards.TakeLast(20).Average(), change);
    }

    /// <summary>TorchSharp's logits [B·L·V] and argmax [B·L] for <paramref name="prompts"/>, as evaluation runs them.</summary>
    public (float[] Logits, long[] Argmax) Torch(IReadOnlyList<long[]> prompts) => TorchForward(State.Policy, prompts, Length);

    public static (float[] Logits, long[] Argmax) TorchForward(nn.Module<Tensor, Tensor> policy, IReadOnlyList<long[]> prompts, int length)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        policy.eval();
        var input = tensor(prompts.SelectMany(p => p).ToArray(), [prompts.Count, length]);
        var logits = policy.forward(input);
        return (logits.data<float>().ToArray(), logits.argmax(-1).data<long>().ToArray());
    }

    public void Dispose() => _trainer.Dispose();
}
