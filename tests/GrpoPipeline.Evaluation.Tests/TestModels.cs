using GrpoPipeline.Core;
using GrpoPipeline.Training;
using GrpoPipeline.Training.Onnx;
using NUnit.Framework;

namespace GrpoPipeline.Evaluation.Tests;

/// <summary>
/// Trains and exports the small models every fixture shares, once per test run, into a temp folder deleted at the end.
/// </summary>
[SetUpFixture]
public sealed class TestModels
{
    /// <summary>Random prompts, L=4, V=6 (1296 prompts, about 130 held out), trained briefly.</summary>
    public static TrainConfig RandomConfig => new()
    {
        RunName = "eval-random",
        Seed = 5,
        Epochs = 150,
        Task = new TaskOptions { Kind = TaskKind.Random, PromptLength = 4, VocabSize = 6, BatchSize = 32, HeldOutSize = 64 },
        Grpo = new GrpoOptions { LearningRate = 1e-2 },
        Run = new RunOptions { Threads = 1 },
    };

    /// <summary>The trained random-task model.</summary>
    public static string Trained { get; private set; } = null!;
    /// <summary>The same task and weights' initialisation, exported before any epoch.</summary>
    public static string Untrained { get; private set; } = null!;
    public static string TempDir { get; private set; } = null!;

    [OneTimeSetUp]
    public void TrainAndExport()
    {
        TempDir = Path.Combine(Path.GetTempPath(), $"grpo-evaluation-{Guid.NewGuid():N}");
        Directory.CreateDirectory(TempDir);
        using var trainer = new GrpoTrainer(TrainingState.Create(RandomConfig));
        var state = trainer.State;
        Untrained = Export(state, "untrained.onnx");
        for (int e = 0; e < RandomConfig.Epochs; e++) trainer.RunEpoch();
        Trained = Export(state, "trained.onnx");
    }

    static string Export(TrainingState state, string name)
    {
        var path = Path.Combine(TempDir, name);
        OnnxExporter.Export(state.Policy, state.Shape, state.Config, state.Epoch, path);
        return path;
    }

    [OneTimeTearDown]
    public void CleanUp()
    {
        if (TempDir is not null && Directory.Exists(TempDir)) Directory.Delete(TempDir, recursive: true);
    }

    /// <summary>A fresh path under <see cref="TempDir"/>.</summary>
    public static string NewPath(string name) => Path.Combine(TempDir, $"{Guid.NewGuid():N}-{name}");

    /// <summary>Writes <paramref name="text"/> to a fresh file and returns its path.</summary>
    public static string WriteFile(string name, string text)
    {
        var path = NewPath(name);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary><paramref name="count"/> uniform prompts of length <paramref name="length"/> over 0..vocab-1.</summary>
    public static List<long[]> RandomPrompts(int count, int length, int vocab, ulong seed)
    {
        var rng = new Rng(seed);
        return Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, length).Select(_ => (long)rng.NextInt(vocab)).ToArray()).ToList();
    }
}
