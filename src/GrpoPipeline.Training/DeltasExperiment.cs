using GrpoPipeline.Core;
namespace GrpoPipeline.Training;

/// <summary>One training run of a <see cref="DeltasExperiment"/>.</summary>
/// <param name="Mode">The deltas mode trained.</param>
/// <param name="Seed">The run's seed.</param>
/// <param name="RewardCurve">reward/mean of every epoch.</param>
/// <param name="FinalReward">Mean reward over the last tenth of the epochs.</param>
/// <param name="HeldOutExact">Greedy exact match on the held-out prompts after the last epoch.</param>
public sealed record ExperimentRun(DeltasMode Mode, long Seed, double[] RewardCurve, double FinalReward, double HeldOutExact);

/// <summary>A deltas mode aggregated over seeds: mean ± (population) std.</summary>
public sealed record ExperimentRow(DeltasMode Mode, int Seeds, double FinalRewardMean, double FinalRewardStd, double HeldOutExactMean, double HeldOutExactStd);

/// <summary>
/// The lecture's experiment (§5.1–5.4): the same config trained under several deltas modes and seeds, in memory.
/// </summary>
public static class DeltasExperiment
{
    /// <summary>The modes the lecture compares, plus its max_rewards.</summary>
    public static readonly DeltasMode[] LectureModes = [DeltasMode.Rewards, DeltasMode.Centered, DeltasMode.Normalized, DeltasMode.Max];

    public static IReadOnlyList<ExperimentRun> Run(TrainConfig config, IReadOnlyList<DeltasMode> modes, int seeds, Action<ExperimentRun>? onRun = null)
    {
        config.Validate();
        if (seeds < 1) throw new ArgumentOutOfRangeException(nameof(seeds), seeds, "at least one seed");
        var runs = new List<ExperimentRun>();
        foreach (var mode in modes)
            for (int s = 0; s < seeds; s++)
            {
                var variant = config with { Seed = config.Seed + s, Grpo = config.Grpo with { Deltas = mode } };
                using var trainer = new GrpoTrainer(TrainingState.Create(variant));
                var curve = new double[variant.Epochs];
                for (int e = 0; e < variant.Epochs; e++) curve[e] = trainer.RunEpoch()[MetricKeys.RewardMean];
                int tail = Math.Max(1, variant.Epochs / 10);
                var run = new ExperimentRun(mode, variant.Seed, curve, curve[^tail..].Average(), trainer.EvaluateHeldOut().Exact);
                runs.Add(run);
                onRun?.Invoke(run);
            }
        return runs;
    }

    /// <summary>One row per mode, in the order the modes first appear.</summary>
    public static IReadOnlyList<ExperimentRow> Summarize(IEnumerable<ExperimentRun> runs) =>
        runs.GroupBy(r => r.Mode).Select(g => new ExperimentRow(g.Key, g.Count(),
            g.Average(r => r.FinalReward), Std(g.Select(r => r.FinalReward)),
            g.Average(r => r.HeldOutExact), Std(g.Select(r => r.HeldOutExact)))).ToList();

    /// <summary>The table as Markdown.</summary>
    public static string ToMarkdown(IReadOnlyList<ExperimentRow> rows, TrainConfig config)
    {
        var lines = new List<string>
        {
            $"| deltas | seeds | final mean reward (max {config.Rewards.MaxReward(config.Task.Length):0.##}) | held-out exact |",
            "| --- | --- | --- | --- |",
        };
        lines.AddRange(rows.Select(r => $"| {System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(r.Mode.ToString())} | {r.Seeds} | " +
            $"{r.FinalRewardMean:F3} ± {r.FinalRewardStd:F3} | {r.HeldOutExactMean:P1} ± {r.HeldOutExactStd:P1} |"));
        return string.Join('\n', lines) + "\n";
    }

    static double Std(IEnumerable<double> values)
    {
        var v = values.ToArray();
        double mean = v.Average();
        return Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / v.Length);
    }
}
