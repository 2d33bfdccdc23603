using GrpoPipeline.Core;
using GrpoPipeline.Training;
using GrpoPipeline.Training.Onnx;
using NUnit.Framework;

namespace GrpoPipeline.Service.Tests;

/// <summary>
/// Exports the ONNX models every fixture serves, once per test run: two lecture-task models of the same shape
/// (L=3, V=5) with different weights, and a random-task model of another shape (L=4, V=6).
/// </summary>
[SetUpFixture]
public sealed class TestModels
{
    static string? _dir;

    /// <summary>Lecture task, L=3 V=5, trained a little so its greedy responses are not all alike.</summary>
    public static string Lecture { get; private set; } = null!;
    /// <summary>Lecture task, L=3 V=5, other initial weights and run name.</summary>
    public static string LectureB { get; private set; } = null!;
    /// <summary>Random task, L=4 V=6.</summary>
    public static string Random { get; private set; } = null!;
    /// <summary>Not an ONNX model: the first half of <see cref="LectureB"/>.</summary>
    public static string Truncated { get; private set; } = null!;

    public const string LectureRun = "lecture";
    public const string LectureBRun = "lecture-b";
    public const string RandomRun = "random";

    [OneTimeSetUp]
    public void Export()
    {
        _dir = NewTempDir("models");
        var run = new RunOptions { LogEvery = 1000, HeldOutEvery = 0, CheckpointEvery = 0, Threads = 1 };
        Lecture = ExportModel(new TrainConfig { RunName = LectureRun, Seed = 0, Task = new TaskOptions { HeldOutSize = 0 }, Run = run,
            Grpo = new GrpoOptions { LearningRate = 1e-2 } }, epochs: 30);
        LectureB = ExportModel(new TrainConfig { RunName = LectureBRun, Seed = 7, Task = new TaskOptions { HeldOutSize = 0 }, Run = run }, epochs: 0);
        Random = ExportModel(new TrainConfig
        {
            RunName = RandomRun, Seed = 3, Run = run,
            Task = new TaskOptions { Kind = TaskKind.Random, PromptLength = 4, VocabSize = 6, HeldOutSize = 0 },
        }, epochs: 0);
        var bytes = File.ReadAllBytes(LectureB);
        Truncated = Path.Combine(_dir, "truncated.onnx");
        File.WriteAllBytes(Truncated, bytes[..(bytes.Length / 2)]);
    }

    [OneTimeTearDown]
    public void Delete() => DeleteDir(_dir);

    static string ExportModel(TrainConfig config, int epochs)
    {
        using var trainer = new GrpoTrainer(TrainingState.Create(config));   // the trainer owns and disposes the state
        for (int e = 0; e < epochs; e++) trainer.RunEpoch();
        var state = trainer.State;
        var path = Path.Combine(_dir!, $"{config.RunName}.onnx");
        OnnxExporter.Export(state.Policy, state.Shape, state.Config, state.Epoch, path);
        return path;
    }

    /// <summary>A fresh, empty folder under the system temp folder.</summary>
    public static string NewTempDir(string prefix)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"grpo-service-{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static void DeleteDir(string? dir)
    {
        if (dir is not null && Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }

    /// <summary>Copies <paramref name="source"/> into <paramref name="dir"/> as <c>model.onnx</c>, the file a test serves.</summary>
    public static string ServedCopy(string dir, string source)
    {
        var path = Path.Combine(dir, "model.onnx");
        File.WriteAllBytes(path, File.ReadAllBytes(source));
        return path;
    }

    /// <summary>Replaces <paramref name="target"/> the way a deployment should: write a temp file beside it, then rename over it.</summary>
    public static void ReplaceAtomically(string target, string source)
    {
        var temp = Path.Combine(Path.GetDirectoryName(target)!, $".{Guid.NewGuid():N}.tmp");
        File.WriteAllBytes(temp, File.ReadAllBytes(source));
        File.Move(temp, target, overwrite: true);
    }
}
