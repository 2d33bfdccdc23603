using System.Text.Json;
using GrpoPipeline.Core;
using GrpoPipeline.Training.Onnx;
using Microsoft.Extensions.Logging.Abstractions;

namespace GrpoPipeline.Training;

/// <summary>
/// The small exported policies the Inference, Service and Evaluation test suites run on, so that none of them needs
/// TorchSharp: each is trained from a fixed config and seed on one thread, which makes the files byte-for-byte
/// reproducible. <c>grpo fixtures --out tests/fixtures</c> writes them; a Training test writes them again and compares,
/// so the committed copies never go stale (regenerate them after changing the exporter, the trainer or the version).
/// </summary>
public static class FixtureModels
{
    /// <summary>The lecture's three prompts, L=3 V=5, trained 300 epochs: greedy responses that differ by prompt.</summary>
    public const string Lecture = "seed-l3v5.onnx";
    /// <summary>The lecture task with other initial weights (seed 7) and another run name, untrained.</summary>
    public const string LectureUntrained = "seed-l3v5-untrained.onnx";
    /// <summary>Random prompts, L=6 V=12, D=16, trained 300 epochs.</summary>
    public const string Random = "seed-l6v12.onnx";
    /// <summary>Random prompts, L=4 V=6 (about 130 held out), trained 150 epochs.</summary>
    public const string Small = "seed-l4v6.onnx";
    /// <summary>The same task and initial weights as <see cref="Small"/>, exported before any epoch.</summary>
    public const string SmallUntrained = "seed-l4v6-untrained.onnx";
    /// <summary>
    /// A decoder (<c>decoder/1</c>) on lengths 1..6, V=8, d=32, 2 layers, trained 300 epochs: about half its held-out
    /// prompts exact, better on short ones, and responses that end at EOS.
    /// </summary>
    public const string Decoder = "decoder-l1to6v8.onnx";
    /// <summary>A decoder of the <c>add</c> task (1..2-digit operands, least significant digit first), untrained.</summary>
    public const string Add = "add-d1to2-untrained.onnx";
    /// <summary>
    /// A decoder of a task no app registers (<see cref="UnregisteredTask"/>: reversal under another name, registered
    /// only while the fixtures are written), untrained: what Inference does with a task it does not know.
    /// </summary>
    public const string Unregistered = "unregistered-l1to4v6-untrained.onnx";
    /// <summary>The task name of <see cref="Unregistered"/>.</summary>
    public const string UnregisteredTask = "fixture-unregistered";
    /// <summary>A run of 60 epochs on L=4 V=6 with held-out evaluations, exported at its end.</summary>
    public const string Run = "e2e.onnx";
    /// <summary>That run's metrics.jsonl without the wall-clock <c>perf/*</c> keys.</summary>
    public const string RunMetrics = "e2e-metrics.jsonl";

    static readonly RunOptions Quiet = new() { LogEvery = 1000, HeldOutEvery = 0, CheckpointEvery = 0, Threads = 1 };

    /// <summary>One exported model: the file, its config, and how many of the config's epochs it trains before export.</summary>
    public sealed record Recipe(string File, TrainConfig Config, int TrainedEpochs);

    /// <summary>Every exported model but <see cref="Run"/>.</summary>
    public static IReadOnlyList<Recipe> Recipes { get; } =
    [
        new(Lecture, new TrainConfig { RunName = "fixture-lecture", Seed = 0, Epochs = 300, Task = new TaskOptions { HeldOutSize = 0 },
            Grpo = new GrpoOptions { LearningRate = 1e-2 }, Run = Quiet }, 300),
        new(LectureUntrained, new TrainConfig { RunName = "fixture-lecture-b", Seed = 7, Task = new TaskOptions { HeldOutSize = 0 }, Run = Quiet }, 0),
        new(Random, new TrainConfig { RunName = "fixture-random", Seed = 3, Epochs = 300,
            Task = new TaskOptions { Kind = TaskKind.Random, PromptLength = 6, VocabSize = 12, BatchSize = 32, HeldOutSize = 0 },
            Policy = new PolicyOptions { EmbeddingDim = 16 }, Grpo = new GrpoOptions { LearningRate = 1e-2 }, Run = Quiet }, 300),
        new(Small, SmallConfig, 150),
        new(SmallUntrained, SmallConfig, 0),
        new(Decoder, new TrainConfig { RunName = "fixture-decoder", Seed = 2, Epochs = 300,
            Task = new TaskOptions { Kind = TaskKind.Variable, MinLength = 1, MaxLength = 6, VocabSize = 8, BatchSize = 32, HeldOutSize = 256 },
            Rewards = new RewardWeights { { "inclusionOrdering", 0 }, { "sortDistance", 1 } },
            Policy = new PolicyOptions { Kind = PolicyKind.Decoder, DModel = 32, Heads = 4, Layers = 2, MlpDim = 64 },
            Grpo = new GrpoOptions { GroupSize = 8, InnerSteps = 2, Deltas = DeltasMode.Normalized, KlCoef = 0, ClipLow = 0.2, ClipHigh = 0.2,
                LearningRate = 3e-3, LearningRateFinal = 3e-4, MaxGradNorm = 1 },
            Run = Quiet }, 300),
        new(Add, new TrainConfig { RunName = "fixture-add", Seed = 1,
            Task = new TaskOptions { Name = AddTask.TaskName, Add = new AddOptions { MinDigits = 1, MaxDigits = 2 }, BatchSize = 16, HeldOutSize = 64 },
            Policy = new PolicyOptions { Kind = PolicyKind.Decoder, DModel = 16, Heads = 2, Layers = 1, MlpDim = 32 }, Run = Quiet }, 0),
        new(Unregistered, new TrainConfig { RunName = "fixture-unregistered", Seed = 1,
            Task = new TaskOptions { Name = UnregisteredTask, Kind = TaskKind.Variable, MinLength = 1, MaxLength = 4, VocabSize = 6, BatchSize = 16, HeldOutSize = 64 },
            Rewards = new RewardWeights { { "positionShare", 1 } },
            Policy = new PolicyOptions { Kind = PolicyKind.Decoder, DModel = 16, Heads = 2, Layers = 1, MlpDim = 32 }, Run = Quiet }, 0),
    ];

    /// <summary>The config of <see cref="Run"/>.</summary>
    public static TrainConfig RunConfig => new()
    {
        RunName = "e2e",
        Seed = 1,
        Epochs = 60,
        Task = new TaskOptions { Kind = TaskKind.Random, PromptLength = 4, VocabSize = 6, BatchSize = 16, HeldOutSize = 100, HeldOutSeed = 4 },
        Grpo = new GrpoOptions { GroupSize = 8, InnerSteps = 4, LearningRate = 1e-2 },
        Run = new RunOptions { LogEvery = 20, HeldOutEvery = 20, CheckpointEvery = 30, Threads = 1 },
    };

    static TrainConfig SmallConfig => new()
    {
        RunName = "fixture-small", Seed = 5, Epochs = 150,
        Task = new TaskOptions { Kind = TaskKind.Random, PromptLength = 4, VocabSize = 6, BatchSize = 32, HeldOutSize = 64 },
        Grpo = new GrpoOptions { LearningRate = 1e-2 }, Run = Quiet,
    };

    /// <summary>Writes every fixture into <paramref name="directory"/> and returns the paths written.</summary>
    public static IReadOnlyList<string> WriteAll(string directory)
    {
        Directory.CreateDirectory(directory);
        TaskRegistry.Register(UnregisteredTask, options => new ReverseTask(options));
        var written = new List<string>();
        foreach (var (file, config, epochs) in Recipes)
        {
            using var trainer = new GrpoTrainer(TrainingState.Create(config));
            for (int e = 0; e < epochs; e++) trainer.RunEpoch();
            var state = trainer.State;
            var path = Path.Combine(directory, file);
            OnnxExporter.Export(state.Policy, state.Shape, state.Config, state.Epoch, path);
            written.Add(path);
        }
        written.AddRange(WriteRun(directory));
        return written;
    }

    static IEnumerable<string> WriteRun(string directory)
    {
        var runDir = Path.Combine(Path.GetTempPath(), $"grpo-fixture-run-{Guid.NewGuid():N}");
        try
        {
            using (var run = TrainingRun.StartNew(RunConfig, new RunDirectory(runDir), NullLogger.Instance))
                run.Train();
            var onnx = Path.Combine(directory, Run);
            OnnxExporter.Export(runDir, onnx);
            var metrics = Path.Combine(directory, RunMetrics);
            var lines = File.ReadLines(new RunDirectory(runDir).MetricsPath).Select(WithoutWallClock);
            AtomicFile.WriteAllText(metrics, string.Join('\n', lines) + "\n");
            return [onnx, metrics];
        }
        finally
        {
            if (Directory.Exists(runDir)) Directory.Delete(runDir, recursive: true);
        }
    }

    static string WithoutWallClock(string jsonLine)
    {
        using var doc = JsonDocument.Parse(jsonLine);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            foreach (var property in doc.RootElement.EnumerateObject())
                if (property.Name is not (MetricKeys.EpochSeconds or MetricKeys.SamplesPerSecond)) property.WriteTo(json);
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
