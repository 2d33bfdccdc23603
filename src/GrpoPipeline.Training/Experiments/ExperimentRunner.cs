using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using GrpoPipeline.Core;

namespace GrpoPipeline.Training.Experiments;

/// <summary>How far an experiment has come: reported after every held-out evaluation of a run.</summary>
/// <param name="Variant">The variant being trained.</param>
/// <param name="Seed">Its seed.</param>
/// <param name="Epoch">Epochs done.</param>
/// <param name="Epochs">Epochs of the run.</param>
/// <param name="HeldOutExact">The latest held-out exact match.</param>
public readonly record struct ExperimentProgress(string Variant, long Seed, int Epoch, int Epochs, double HeldOutExact);

/// <summary>
/// The share of an experiment's runs one process trains: the runs whose index, in variant then seed order, is
/// <see cref="Index"/> modulo <see cref="Count"/>. Several processes share an experiment that way.
/// </summary>
public sealed record ExperimentShard
{
    /// <summary>A shard of <paramref name="count"/>; 0 ≤ <paramref name="index"/> &lt; <paramref name="count"/>.</summary>
    public ExperimentShard(int index, int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, count);
        (Index, Count) = (index, count);
    }

    /// <summary>Every run: the one shard of one.</summary>
    public static ExperimentShard All { get; } = new(0, 1);

    /// <summary>This shard's number, from 0.</summary>
    public int Index { get; }

    /// <summary>How many shards share the experiment.</summary>
    public int Count { get; }

    /// <summary>Whether the run at <paramref name="runIndex"/> (variant then seed order, from 0) is this shard's.</summary>
    public bool Includes(int runIndex) => runIndex % Count == Index;

    /// <summary>Reads <c>i/N</c>, as <see cref="ToString"/> writes it.</summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out ExperimentShard? shard)
    {
        var parts = text.Split('/');
        shard = parts.Length == 2 && int.TryParse(parts[0], out int i) && int.TryParse(parts[1], out int n) && n >= 1 && i >= 0 && i < n ? new(i, n) : null;
        return shard is not null;
    }

    /// <summary><c>i/N</c>.</summary>
    public override string ToString() => $"{Index}/{Count}";
}

/// <summary>
/// Trains an experiment: every variant of a config with several seeds, one run after the other. With an
/// <see cref="ExperimentDirectory"/>, every finished run is kept in its <c>runs/</c> folder, and a run already there
/// (from an invocation that was stopped, crashed, or trained another shard) is read instead of trained again.
/// </summary>
/// <remarks>
/// One process trains one run at a time: torch's thread count and global generator are process-wide. Runs train in
/// parallel as processes, each given its own <see cref="Shard"/> of the same experiment directory.
/// </remarks>
public sealed class ExperimentRunner
{
    /// <summary>The folder under the experiment directory that holds one JSON file per finished run.</summary>
    public const string RunsFolder = "runs";

    /// <summary>The experiment's folder, whose <c>runs/</c> keeps finished runs; null keeps nothing and resumes nothing (default).</summary>
    public string? ExperimentDirectory { get; init; }

    /// <summary>The runs this runner trains (default: all).</summary>
    public ExperimentShard Shard { get; init; } = ExperimentShard.All;

    /// <summary>Told after every held-out evaluation of a run it trains (default: none).</summary>
    public IProgress<ExperimentProgress>? Progress { get; init; }

    /// <summary>Called after each run it trains, once the run's file is written; not for a run read from its file (default: none).</summary>
    public Action<ExperimentRun>? RunFinished { get; init; }

    /// <summary>
    /// The runs of <paramref name="variants"/> × <paramref name="seeds"/> seeds (config.seed, config.seed + 1, …) in
    /// <see cref="Shard"/>, in variant, then seed order: trained, or read from their run files.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancel"/> was cancelled; checked every epoch. The runs finished so far keep their files.</exception>
    public IReadOnlyList<ExperimentRun> Run(TrainConfig config, IReadOnlyList<ExperimentVariant> variants, int seeds, CancellationToken cancel = default)
    {
        config.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(seeds, 1);
        var jobs = variants.SelectMany(v => Enumerable.Range(0, seeds).Select(s => (Variant: v, Config: v.Apply(config) with { Seed = config.Seed + s })))
            .Where((_, i) => Shard.Includes(i)).ToList();
        if (ExperimentDirectory is not null) Directory.CreateDirectory(Path.Combine(ExperimentDirectory, RunsFolder));
        var runs = new List<ExperimentRun>(jobs.Count);
        foreach (var (variant, runConfig) in jobs)
        {
            string? file = ExperimentDirectory is null ? null : RunFile(ExperimentDirectory, runConfig);
            if (file is not null && File.Exists(file))
            {
                // Taken as it is, under the variant's current label: the file is named by the config, not the label.
                var earlier = JsonSerializer.Deserialize<ExperimentRun>(File.ReadAllText(file), TrainConfig.Json)!;
                runs.Add(earlier with { Variant = variant.Label });
                continue;
            }
            var run = Train(variant.Label, runConfig, cancel);
            if (file is not null) AtomicFile.WriteAllText(file, JsonSerializer.Serialize(run, TrainConfig.Json));
            runs.Add(run);
            RunFinished?.Invoke(run);
        }
        return runs;
    }

    /// <summary>
    /// The file a run of <paramref name="runConfig"/> is kept in: <c>runs/</c>, then the first 16 hex digits of the
    /// SHA-256 of the config's JSON. Any change to the config is another run; the same config resumes.
    /// </summary>
    public static string RunFile(string experimentDirectory, TrainConfig runConfig) =>
        Path.Combine(experimentDirectory, RunsFolder, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(runConfig.ToJson())))[..16] + ".json");

    ExperimentRun Train(string variant, TrainConfig config, CancellationToken cancel)
    {
        config.Validate();
        using var trainer = new GrpoTrainer(TrainingState.Create(config));
        var curve = new double[config.Epochs];
        var tied = new double[config.Epochs];
        var heldOut = new List<HeldOutPoint>();
        double seconds = 0;
        for (int e = 1; e <= config.Epochs; e++)
        {
            cancel.ThrowIfCancellationRequested();
            var metrics = trainer.RunEpoch();
            curve[e - 1] = metrics[MetricKeys.RewardMean];
            tied[e - 1] = metrics[MetricKeys.RewardFracZeroStd];
            seconds += metrics[MetricKeys.EpochSeconds];
            if (e == config.Epochs || (config.Run.HeldOutEvery > 0 && e % config.Run.HeldOutEvery == 0))
            {
                var point = new HeldOutPoint(e, seconds, trainer.EvaluateHeldOut().Exact);
                heldOut.Add(point);
                Progress?.Report(new ExperimentProgress(variant, config.Seed, e, config.Epochs, point.Exact));
            }
        }
        int tail = Math.Max(1, config.Epochs / 10);
        return new ExperimentRun(variant, config.Seed, curve, heldOut.ToArray(), curve[^tail..].Average(), tied);
    }
}
