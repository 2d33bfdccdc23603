using System.Globalization;
using System.Text.Json;
using GrpoPipeline.Core;

namespace GrpoPipeline.Training;

/// <summary>One variant of an experiment: a label, and how it changes the base config.</summary>
public sealed record ExperimentVariant(string Label, Func<TrainConfig, TrainConfig> Apply);

/// <summary>A greedy held-out evaluation during a run, and the training time spent until then.</summary>
/// <param name="Epoch">The epoch it followed.</param>
/// <param name="TrainingSeconds">Wall time of the epochs so far, evaluations excluded.</param>
/// <param name="Exact">Held-out exact-match share.</param>
public readonly record struct HeldOutPoint(int Epoch, double TrainingSeconds, double Exact);

/// <summary>One training run of an experiment.</summary>
/// <param name="Variant">The variant's label.</param>
/// <param name="Seed">The run's seed.</param>
/// <param name="RewardCurve">reward/mean of every epoch.</param>
/// <param name="HeldOut">The held-out evaluations, every run.heldOutEvery epochs and at the end.</param>
/// <param name="FinalReward">Mean reward over the last tenth of the epochs.</param>
/// <param name="TiedCurve">reward/frac_zero_std of every epoch: the share of groups whose rewards all tie (the collapse).</param>
public sealed record ExperimentRun(string Variant, long Seed, double[] RewardCurve, HeldOutPoint[] HeldOut, double FinalReward, double[] TiedCurve)
{
    /// <summary>Held-out exact match after the last epoch.</summary>
    public double FinalHeldOutExact => HeldOut.Length == 0 ? double.NaN : HeldOut[^1].Exact;

    /// <summary>The first evaluation at or above <paramref name="target"/>, if any.</summary>
    public HeldOutPoint? FirstReaching(double target) =>
        HeldOut.Select(p => (HeldOutPoint?)p).FirstOrDefault(p => p!.Value.Exact >= target);

    /// <summary>The first evaluation from which every evaluation to the end is at or above <paramref name="target"/>, if any.</summary>
    public HeldOutPoint? HoldingFrom(double target)
    {
        HeldOutPoint? from = null;
        foreach (var p in HeldOut) from = p.Exact >= target ? from ?? p : null;
        return from;
    }

    /// <summary>The lowest evaluation from the first reaching <paramref name="target"/> to the end (null if never reached).</summary>
    public double? LowestAfterReaching(double target) =>
        FirstReaching(target) is { } first ? HeldOut.Where(p => p.Epoch >= first.Epoch).Min(p => p.Exact) : null;
}

/// <summary>A variant aggregated over seeds: means ± (population) std, and the time to a held-out target.</summary>
/// <param name="Variant">The variant's label.</param>
/// <param name="Seeds">Runs aggregated.</param>
/// <param name="FinalRewardMean">Mean of the runs' final rewards.</param>
/// <param name="FinalRewardStd">Their std.</param>
/// <param name="HeldOutExactMean">Mean of the final held-out exact match.</param>
/// <param name="HeldOutExactStd">Its std.</param>
/// <param name="Reached">Runs whose held-out exact match reached the target.</param>
/// <param name="SecondsToTarget">Training seconds to the target, per run (null: not reached), in seed order.</param>
/// <param name="EpochsToTarget">Epochs to the target, per run (null: not reached).</param>
/// <param name="LowestAfterTarget">The lowest held-out exact match after reaching the target, over the runs that did.</param>
/// <param name="SecondsToHolding">Training seconds to the evaluation from which the run stays at or above the target to the end, per run (null: it does not).</param>
public sealed record ExperimentRow(string Variant, int Seeds, double FinalRewardMean, double FinalRewardStd, double HeldOutExactMean, double HeldOutExactStd,
    int Reached, double?[] SecondsToTarget, int?[] EpochsToTarget, double? LowestAfterTarget, double?[] SecondsToHolding)
{
    /// <summary>The median training seconds to holding the target to the end, as <see cref="MedianSecondsToTarget"/>.</summary>
    public double? MedianSecondsToHolding => Median(SecondsToHolding);

    /// <summary>
    /// The median training seconds to the target, counting "not reached" as longer than any time; null when half or
    /// more of the runs did not reach it.
    /// </summary>
    public double? MedianSecondsToTarget => Median(SecondsToTarget);
    /// <summary>The median epochs to the target, as <see cref="MedianSecondsToTarget"/>.</summary>
    public double? MedianEpochsToTarget => Median(EpochsToTarget.Select(e => (double?)e).ToArray());

    static double? Median(double?[] values)
    {
        var sorted = values.OrderBy(v => v ?? double.PositiveInfinity).ToArray();
        double? Middle(int i) => sorted[i];
        if (sorted.Length % 2 == 1) return Middle(sorted.Length / 2);
        return Middle(sorted.Length / 2 - 1) is { } a && Middle(sorted.Length / 2) is { } b ? (a + b) / 2 : null;
    }
}

/// <summary>How far an experiment has come.</summary>
/// <param name="Variant">The variant being trained.</param>
/// <param name="Seed">Its seed.</param>
/// <param name="Epoch">Epochs done.</param>
/// <param name="Epochs">Epochs of the run.</param>
/// <param name="HeldOutExact">The latest held-out exact match.</param>
public readonly record struct ExperimentProgress(string Variant, long Seed, int Epoch, int Epochs, double HeldOutExact);

/// <summary>
/// The same config trained under several variants and seeds, in memory: the lecture's comparison of deltas modes
/// (§5.1–5.4), the loss aggregations of the autoregressive trainer, and ablations. Each run logs its reward per epoch
/// and a greedy held-out evaluation every <c>run.heldOutEvery</c> epochs, with the training time until then.
/// </summary>
public static class Experiment
{
    /// <summary>The deltas modes the lecture compares, plus its max_rewards.</summary>
    public static IReadOnlyList<ExperimentVariant> DeltasModes { get; } =
        new[] { DeltasMode.Rewards, DeltasMode.Centered, DeltasMode.Normalized, DeltasMode.Max }
            .Select(mode => new ExperimentVariant(Name(mode), c => c with { Grpo = c.Grpo with { Deltas = mode } })).ToList();

    /// <summary>The three loss aggregations with a token ratio, and GSPO's sequence ratio (sequence_mean).</summary>
    public static IReadOnlyList<ExperimentVariant> LossAggregations { get; } =
    [
        .. Enum.GetValues<LossAggregation>().Select(a => new ExperimentVariant(Name(a),
            c => c with { Grpo = c.Grpo with { LossAggregation = a, RatioLevel = RatioLevel.Token } })),
        new ExperimentVariant("sequence_ratio (GSPO)",
            c => c with { Grpo = c.Grpo with { LossAggregation = LossAggregation.SequenceMean, RatioLevel = RatioLevel.Sequence } }),
    ];

    /// <summary>
    /// The tools against slow learning and collapse, each as (label, is it on in a config, the config without it, the
    /// config with it in a standard setting).
    /// </summary>
    public static IReadOnlyList<(string Tool, Func<TrainConfig, bool> IsOn, Func<TrainConfig, TrainConfig> Remove, Func<TrainConfig, TrainConfig> Add)> Tools { get; } =
    [
        ("dynamic sampling", c => c.Grpo.DynamicSampling is not null,
            c => c with { Grpo = c.Grpo with { DynamicSampling = null } },
            c => c with { Grpo = c.Grpo with { DynamicSampling = new DynamicSamplingOptions() } }),
        ("entropy bonus", c => c.Grpo.Entropy is not null,
            c => c with { Grpo = c.Grpo with { Entropy = null } },
            c => c with { Grpo = c.Grpo with { Entropy = new EntropyOptions { Coef = 0.001, Controller = new EntropyControllerOptions { Target = 0.15 } } } }),
        ("reference mixup", c => c.Grpo.RefMixup < 1,
            c => c with { Grpo = c.Grpo with { RefMixup = 1 } },
            // Mixup acts through the KL term: a config without one gets β = 0.01 and a refresh every 50 epochs.
            c => c with { Grpo = c.Grpo with { RefMixup = 0.5, KlCoef = c.Grpo.KlCoef > 0 ? c.Grpo.KlCoef : 0.01, RefPeriod = c.Grpo.RefPeriod > 0 ? c.Grpo.RefPeriod : 50 } }),
        ("dual clip", c => c.Grpo.DualClip is not null,
            c => c with { Grpo = c.Grpo with { DualClip = null } },
            c => c with { Grpo = c.Grpo with { DualClip = 3 } }),
        ("curriculum", c => c.Task.Curriculum is not null,
            c => c with { Task = c.Task with { Curriculum = null } },
            c => c with { Task = c.Task with { Curriculum = StandardCurriculum(c.Task) } }),
        ("overlapped rollouts", c => c.Grpo.Overlap is not null,
            c => c with { Grpo = c.Grpo with { Overlap = null } },
            c => c with { Grpo = c.Grpo with { Overlap = new OverlapOptions() } }),
    ];

    /// <summary>
    /// The ablation of <paramref name="config"/>: the config itself, then each tool it uses removed in turn ("− tool"),
    /// each tool it does not use added in a standard setting ("+ tool"), and every tool removed ("none").
    /// </summary>
    public static IReadOnlyList<ExperimentVariant> Ablation(TrainConfig config)
    {
        var variants = new List<ExperimentVariant> { new("config", c => c) };
        foreach (var (tool, isOn, remove, add) in Tools)
            variants.Add(isOn(config) ? new ExperimentVariant("− " + tool, remove) : new ExperimentVariant("+ " + tool, add));
        variants.Add(new ExperimentVariant("none", c => Tools.Aggregate(c, (x, t) => t.Remove(x))));
        return variants;
    }

    /// <summary>A curriculum over a quarter, then the rest in three steps, moving on at 90% held-out exact.</summary>
    static CurriculumOptions StandardCurriculum(TaskOptions task)
    {
        int first = task.IsVariableLength ? task.MinLength : 2;
        int start = Math.Max(first, (int)Math.Ceiling(task.FinalLevel / 4.0));
        return new CurriculumOptions { Start = start, Step = Math.Max(1, (int)Math.Ceiling((task.FinalLevel - start) / 3.0)), Threshold = 0.9, Every = 25 };
    }

    /// <summary>
    /// The lecture's collapse on the seed task: the config, then with dynamic sampling, with the entropy controller
    /// holding the entropy at 0.5 nats (V = 5: ln 5 ≈ 1.6 is uniform), and with both.
    /// </summary>
    public static IReadOnlyList<ExperimentVariant> Collapse { get; } =
    [
        new("config", c => c),
        new("+ dynamic sampling", c => c with { Grpo = c.Grpo with { DynamicSampling = new DynamicSamplingOptions() } }),
        new("+ entropy bonus (target 0.5)", HoldEntropy),
        new("+ both", c => HoldEntropy(c) with { Grpo = HoldEntropy(c).Grpo with { DynamicSampling = new DynamicSamplingOptions() } }),
    ];

    static TrainConfig HoldEntropy(TrainConfig c) =>
        c with { Grpo = c.Grpo with { Entropy = new EntropyOptions { Coef = 0.01, Controller = new EntropyControllerOptions { Target = 0.5, Step = 0.005, Max = 1 } } } };

    /// <summary>
    /// Trains every variant with <paramref name="seeds"/> seeds (config.seed, config.seed + 1, …), one after the other,
    /// in variant, then seed order. With <paramref name="shard"/> (i, N) it trains only the runs whose index is i modulo
    /// N and returns those: several processes share an experiment that way (torch's thread count and global generator
    /// are process-wide, so one process trains one run at a time).
    /// </summary>
    /// <remarks>
    /// <paramref name="done"/> may return a run finished earlier for a variant's exact config (a previous invocation
    /// that was stopped or crashed): it is taken as it is and not trained again.
    /// </remarks>
    public static IReadOnlyList<ExperimentRun> Run(TrainConfig config, IReadOnlyList<ExperimentVariant> variants, int seeds,
        Action<ExperimentRun, TrainConfig>? onRun = null, IProgress<ExperimentProgress>? progress = null, CancellationToken cancel = default,
        Func<TrainConfig, ExperimentRun?>? done = null, (int Index, int Count)? shard = null)
    {
        config.Validate();
        if (seeds < 1) throw new ArgumentOutOfRangeException(nameof(seeds), seeds, "at least one seed");
        var (index, count) = shard ?? (0, 1);
        var jobs = variants.SelectMany(v => Enumerable.Range(0, seeds).Select(s => (Variant: v, Config: v.Apply(config) with { Seed = config.Seed + s })))
            .Where((_, i) => i % count == index).ToList();
        var runs = new List<ExperimentRun>(jobs.Count);
        foreach (var (variant, runConfig) in jobs)
        {
            if (done?.Invoke(runConfig) is { } earlier)
            {
                runs.Add(earlier with { Variant = variant.Label });
                continue;
            }
            var run = RunOne(variant, runConfig, progress, cancel);
            runs.Add(run);
            onRun?.Invoke(run, runConfig);
        }
        return runs;
    }

    static ExperimentRun RunOne(ExperimentVariant variant, TrainConfig config, IProgress<ExperimentProgress>? progress, CancellationToken cancel)
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
                progress?.Report(new ExperimentProgress(variant.Label, config.Seed, e, config.Epochs, point.Exact));
            }
        }
        int tail = Math.Max(1, config.Epochs / 10);
        return new ExperimentRun(variant.Label, config.Seed, curve, heldOut.ToArray(), curve[^tail..].Average(), tied);
    }

    /// <summary>One row per variant, in the order the variants first appear; time to <paramref name="target"/> held-out exact.</summary>
    public static IReadOnlyList<ExperimentRow> Summarize(IEnumerable<ExperimentRun> runs, double target) =>
        runs.GroupBy(r => r.Variant).Select(g =>
        {
            var list = g.ToList();
            var reached = list.Select(r => r.FirstReaching(target)).ToList();
            var lowest = list.Select(r => r.LowestAfterReaching(target)).Where(v => v is not null).Select(v => v!.Value).ToList();
            return new ExperimentRow(g.Key, list.Count,
                list.Average(r => r.FinalReward), Std(list.Select(r => r.FinalReward)),
                list.Average(r => r.FinalHeldOutExact), Std(list.Select(r => r.FinalHeldOutExact)),
                reached.Count(p => p is not null),
                reached.Select(p => p?.TrainingSeconds).ToArray(),
                reached.Select(p => p?.Epoch).ToArray(),
                lowest.Count == 0 ? null : lowest.Min(),
                list.Select(r => r.HoldingFrom(target)?.TrainingSeconds).ToArray());
        }).ToList();

    /// <summary>The table as Markdown.</summary>
    public static string ToMarkdown(IReadOnlyList<ExperimentRow> rows, TrainConfig config, double target, string variantHeader = "variant")
    {
        string t = Percent(target);
        var task = TaskRegistry.Create(config.Task);
        double maxReward = task.MaxReward(task.Weights(config.Rewards), task.MaxPromptLength);
        var lines = new List<string>
        {
            $"| {variantHeader} | seeds | final mean reward (max {maxReward.ToString("0.##", CultureInfo.InvariantCulture)}) | final held-out exact | reached {t} | time to {t}: median [range] | epochs to {t}: median | lowest after reaching | ≥ {t} to the end from: median [range] |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        };
        foreach (var r in rows)
        {
            string median = MedianAndRange(r.SecondsToTarget, r.MedianSecondsToTarget, "not reached");
            string holding = MedianAndRange(r.SecondsToHolding, r.MedianSecondsToHolding, "never");
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Variant} | {r.Seeds} | {r.FinalRewardMean:F3} ± {r.FinalRewardStd:F3} | {Percent(r.HeldOutExactMean)} ± {Percent(r.HeldOutExactStd)} | " +
                $"{r.Reached}/{r.Seeds} | {median} | {(r.MedianEpochsToTarget is { } e ? e.ToString("0") : "not reached")} | {(r.LowestAfterTarget is { } low ? Percent(low) : "")} | {holding} |"));
        }
        return string.Join('\n', lines) + "\n";
    }

    /// <summary>"89 s [73 s, 91 s]": the median (or <paramref name="never"/>) and the range, a missing run being the slowest.</summary>
    static string MedianAndRange(double?[] seconds, double? median, string never)
    {
        var times = seconds.Where(s => s is not null).Select(s => s!.Value).ToList();
        string range = times.Count == 0 ? "" : $" [{Seconds(times.Min())}, {(times.Count < seconds.Length ? never : Seconds(times.Max()))}]";
        return (median is { } m ? Seconds(m) : never) + range;
    }

    /// <summary>A config enum's JSON name, e.g. <c>batch_normalized</c>.</summary>
    public static string Name<T>(T value) where T : struct, Enum => JsonNamingPolicy.SnakeCaseLower.ConvertName(value.ToString());

    static string Percent(double share) => (share * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%";
    static string Seconds(double s) => s.ToString("0", CultureInfo.InvariantCulture) + " s";

    static double Std(IEnumerable<double> values)
    {
        var v = values.ToArray();
        double mean = v.Average();
        return Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / v.Length);
    }
}
