using System.Text.Json;
using GrpoPipeline.Core;

namespace GrpoPipeline.Training.Experiments;

/// <summary>One variant of an experiment: a label, and how it changes the base config.</summary>
/// <param name="Label">The variant's name in the report, the run files and <c>--variants</c>.</param>
/// <param name="Apply">The base config changed into this variant's.</param>
public sealed record ExperimentVariant(string Label, Func<TrainConfig, TrainConfig> Apply);

/// <summary>A tool against slow learning and collapse, as the ablation removes or adds it.</summary>
/// <param name="Name">The tool's name, e.g. <c>dynamic sampling</c>.</param>
/// <param name="IsOn">Whether a config uses it.</param>
/// <param name="Remove">The config without it.</param>
/// <param name="Add">The config with it, in a standard setting.</param>
public sealed record StabilityTool(string Name, Func<TrainConfig, bool> IsOn, Func<TrainConfig, TrainConfig> Remove, Func<TrainConfig, TrainConfig> Add);

/// <summary>An experiment <c>grpo experiment &lt;name&gt;</c> runs: which config it varies, how, and over how many seeds.</summary>
/// <param name="Name">The command's name and the stem of the report's files (<c>deltas.md</c>, <c>deltas.json</c>, …).</param>
/// <param name="Description">What it compares: the command's help and the report's title.</param>
/// <param name="DefaultConfig">The config it varies unless given another, relative to the working directory: one of the repository's models/configs when <c>grpo</c> runs from its root.</param>
/// <param name="DefaultSeeds">Seeds per variant unless told otherwise.</param>
/// <param name="VariantHeader">The header of the report table's first column.</param>
/// <param name="VariantsOf">The variants it trains of a given config.</param>
public sealed record ExperimentDefinition(string Name, string Description, string DefaultConfig, int DefaultSeeds, string VariantHeader,
    Func<TrainConfig, IReadOnlyList<ExperimentVariant>> VariantsOf);

/// <summary>
/// The experiments and their variants: the lecture's comparison of deltas modes (§5.1–5.4), the loss aggregations of
/// the autoregressive trainer, the ablation of the stability tools, and the lecture's collapse.
/// </summary>
public static class ExperimentCatalogue
{
    /// <summary>Every deltas mode: the lecture's three and its max_rewards, then the batch-normalised and leave-one-out baselines.</summary>
    public static IReadOnlyList<ExperimentVariant> DeltasModes { get; } =
        new[] { DeltasMode.Rewards, DeltasMode.Centered, DeltasMode.Normalized, DeltasMode.Max, DeltasMode.BatchNormalized, DeltasMode.Rloo }
            .Select(mode => new ExperimentVariant(JsonName(mode), c => c with { Grpo = c.Grpo with { Deltas = mode } })).ToList();

    /// <summary>The three loss aggregations with a token ratio, and GSPO's sequence ratio (sequence_mean).</summary>
    public static IReadOnlyList<ExperimentVariant> LossAggregations { get; } =
    [
        .. Enum.GetValues<LossAggregation>().Select(a => new ExperimentVariant(JsonName(a),
            c => c with { Grpo = c.Grpo with { LossAggregation = a, RatioLevel = RatioLevel.Token } })),
        new ExperimentVariant("sequence_ratio (GSPO)",
            c => c with { Grpo = c.Grpo with { LossAggregation = LossAggregation.SequenceMean, RatioLevel = RatioLevel.Sequence } }),
    ];

    /// <summary>The tools against slow learning and collapse, in the order the ablation varies them.</summary>
    public static IReadOnlyList<StabilityTool> StabilityTools { get; } =
    [
        new("dynamic sampling", c => c.Grpo.DynamicSampling is not null,
            c => c with { Grpo = c.Grpo with { DynamicSampling = null } },
            c => c with { Grpo = c.Grpo with { DynamicSampling = new DynamicSamplingOptions() } }),
        new("entropy bonus", c => c.Grpo.Entropy is not null,
            c => c with { Grpo = c.Grpo with { Entropy = null } },
            c => c with { Grpo = c.Grpo with { Entropy = new EntropyOptions { Coef = 0.001, Controller = new EntropyControllerOptions { Target = 0.15 } } } }),
        new("reference mixup", c => c.Grpo.RefMixup < 1,
            c => c with { Grpo = c.Grpo with { RefMixup = 1 } },
            // Mixup acts through the KL term: a config without one gets β = 0.01 and a refresh every 50 epochs.
            c => c with { Grpo = c.Grpo with { RefMixup = 0.5, KlCoef = c.Grpo.KlCoef > 0 ? c.Grpo.KlCoef : 0.01, RefPeriod = c.Grpo.RefPeriod > 0 ? c.Grpo.RefPeriod : 50 } }),
        new("dual clip", c => c.Grpo.DualClip is not null,
            c => c with { Grpo = c.Grpo with { DualClip = null } },
            c => c with { Grpo = c.Grpo with { DualClip = 3 } }),
        new("curriculum", c => c.Task.Curriculum is not null,
            c => c with { Task = c.Task with { Curriculum = null } },
            c => c with { Task = c.Task with { Curriculum = StandardCurriculum(c.Task) } }),
        new("overlapped rollouts", c => c.Grpo.Overlap is not null,
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
        foreach (var tool in StabilityTools)
            variants.Add(tool.IsOn(config) ? new ExperimentVariant("− " + tool.Name, tool.Remove) : new ExperimentVariant("+ " + tool.Name, tool.Add));
        variants.Add(new ExperimentVariant("none", c => StabilityTools.Aggregate(c, (x, t) => t.Remove(x))));
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

    /// <summary>The experiments of <c>grpo experiment</c>, in the order its help lists them.</summary>
    public static IReadOnlyList<ExperimentDefinition> Experiments { get; } =
    [
        new("deltas", "Train one config under each deltas mode: the lecture's rewards, centered, normalized and max, then batch_normalized and rloo.",
            "models/configs/seed.json", DefaultSeeds: 5, "deltas", _ => DeltasModes),
        new("aggregation", "Train one config under the loss aggregations (sequence_mean, token_mean, constant) and GSPO's sequence ratio.",
            "models/configs/sort-variable.json", DefaultSeeds: 3, "loss aggregation", _ => LossAggregations),
        new("ablation", "Train one config as it is, with each of its tools (dynamic sampling, entropy bonus, reference mixup, dual clip, curriculum, overlapped rollouts) removed in turn, each tool it lacks added, and with none.",
            "models/configs/transformer-l8v32.json", DefaultSeeds: 3, "variant", Ablation),
        new("collapse", "Train the seed task as configured, with dynamic sampling, with the entropy bonus and with both: what they change in the lecture's collapse (reward/frac_zero_std going to 1).",
            "models/configs/seed.json", DefaultSeeds: 3, "variant", _ => Collapse),
    ];

    /// <summary>A config enum's JSON name, e.g. <c>batch_normalized</c>: the label of the variant that sets it.</summary>
    static string JsonName<T>(T value) where T : struct, Enum => JsonNamingPolicy.SnakeCaseLower.ConvertName(value.ToString());
}
