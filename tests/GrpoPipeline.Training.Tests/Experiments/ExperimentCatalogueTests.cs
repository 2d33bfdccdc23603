using GrpoPipeline.Core;
using GrpoPipeline.Training.Experiments;
using NUnit.Framework;

namespace GrpoPipeline.Training.Tests.Experiments;

/// <summary>The experiments' variants: what each changes in a config, and the experiments' default configs.</summary>
[TestFixture]
public sealed class ExperimentCatalogueTests
{
    [Test]
    public void Every_Experiment_Defaults_To_A_Config_Of_The_Repository_And_Its_Variants_Are_Valid()
    {
        Assert.That(ExperimentCatalogue.Experiments.Select(e => e.Name), Is.EqualTo(new[] { "deltas", "aggregation", "ablation", "collapse" }));
        foreach (var experiment in ExperimentCatalogue.Experiments)
        {
            var config = TrainConfig.Load(Path.Combine(TestConfigs.RepoRoot(), experiment.DefaultConfig));
            var variants = experiment.VariantsOf(config);
            Assert.That(variants.Select(v => v.Label), Is.Unique, experiment.Name);
            foreach (var v in variants) Assert.DoesNotThrow(() => v.Apply(config).Validate(), $"{experiment.Name}: {v.Label}");
        }
    }

    [Test]
    public void The_Experiments_Page_Lists_Each_Experiment_With_Its_Default_Config_Seeds_And_Fixed_Variants()
    {
        var page = File.ReadAllLines(Path.Combine(TestConfigs.RepoRoot(), "docs", "experiments.md"));
        var rows = page.SkipWhile(l => !l.StartsWith("| Experiment | Variants |", StringComparison.Ordinal)).Skip(2)
            .TakeWhile(l => l.StartsWith("| `", StringComparison.Ordinal))
            .Select(l => l.Split('|', StringSplitOptions.TrimEntries))
            .ToDictionary(cells => cells[1].Trim('`'), cells => (Variants: cells[2], Defaults: cells[3]));

        Assert.That(rows.Keys, Is.EqualTo(ExperimentCatalogue.Experiments.Select(e => e.Name)), "one row per experiment, in the help's order");
        foreach (var experiment in ExperimentCatalogue.Experiments)
            Assert.That(rows[experiment.Name].Defaults, Is.EqualTo($"`{Path.GetFileName(experiment.DefaultConfig)}`, {experiment.DefaultSeeds}"), experiment.Name);
        foreach (var mode in ExperimentCatalogue.DeltasModes)
            Assert.That(rows["deltas"].Variants, Does.Contain($"`{mode.Label}`"));
        foreach (var aggregation in ExperimentCatalogue.LossAggregations.Where(v => !v.Label.Contains(' ')))
            Assert.That(rows["aggregation"].Variants, Does.Contain($"`{aggregation.Label}`"));
    }

    [Test]
    public void Deltas_Modes_Set_The_Mode_They_Are_Named_For()
    {
        var variants = ExperimentCatalogue.DeltasModes;
        Assert.That(variants.Select(v => v.Label), Is.EqualTo(new[] { "rewards", "centered", "normalized", "max", "batch_normalized", "rloo" }), "the config's JSON names");
        Assert.That(variants.Select(v => v.Apply(new TrainConfig()).Grpo.Deltas), Is.EqualTo(Enum.GetValues<DeltasMode>()), "every mode, once");
    }

    [Test]
    public void Loss_Aggregations_Use_A_Token_Ratio_Except_Gspo()
    {
        var variants = ExperimentCatalogue.LossAggregations;
        var grpo = variants.Select(v => v.Apply(new TrainConfig()).Grpo).ToList();
        Assert.That(variants.Select(v => v.Label), Is.EqualTo(new[] { "sequence_mean", "token_mean", "constant", "sequence_ratio (GSPO)" }), "the config's JSON names");
        Assert.That(grpo.Select(g => (g.LossAggregation, g.RatioLevel)), Is.EqualTo(new[]
        {
            (LossAggregation.SequenceMean, RatioLevel.Token), (LossAggregation.TokenMean, RatioLevel.Token),
            (LossAggregation.Constant, RatioLevel.Token), (LossAggregation.SequenceMean, RatioLevel.Sequence),
        }));
    }

    [Test]
    public void Ablation_Removes_Each_Tool_The_Config_Uses_Adds_Each_It_Lacks_And_Ends_With_None()
    {
        var config = TestConfigs.TinyRandom() with { Grpo = new GrpoOptions { DynamicSampling = new DynamicSamplingOptions(), Entropy = new EntropyOptions { Coef = 0.01 }, KlCoef = 0 } };
        var variants = ExperimentCatalogue.Ablation(config);

        Assert.That(variants.Select(v => v.Label), Is.EqualTo(new[] { "config", "− dynamic sampling", "− entropy bonus", "+ reference mixup",
            "+ dual clip", "+ curriculum", "+ overlapped rollouts", "none" }));
        var withoutDynamic = variants[1].Apply(config);
        Assert.That((withoutDynamic.Grpo.DynamicSampling, withoutDynamic.Grpo.Entropy), Is.EqualTo(((DynamicSamplingOptions?)null, config.Grpo.Entropy)), "only the named tool is removed");
        var mixup = variants[3].Apply(config);
        Assert.That((mixup.Grpo.RefMixup, mixup.Grpo.KlCoef > 0, mixup.Grpo.RefPeriod > 0), Is.EqualTo((0.5, true, true)), "mixup comes with the KL term it acts through");
        Assert.That(variants[5].Apply(config).Task.Curriculum, Is.EqualTo(new CurriculumOptions { Start = 2, Step = 2, Threshold = 0.9, Every = 25 }),
            "V=6: start at ⌈6/4⌉ = 2 values, then 4, then 6");
        foreach (var v in variants) v.Apply(config).Validate();
        var none = variants[^1].Apply(config);
        Assert.That(ExperimentCatalogue.StabilityTools.Where(t => t.IsOn(none)).Select(t => t.Name), Is.Empty);
        Assert.That(ExperimentCatalogue.StabilityTools.Where(t => !t.IsOn(t.Add(none))).Select(t => t.Name), Is.Empty, "each tool, added, is on");
    }

    [Test]
    public void Collapse_Adds_Dynamic_Sampling_The_Entropy_Controller_And_Both()
    {
        var config = new TrainConfig();
        var grpo = ExperimentCatalogue.Collapse.Select(v => v.Apply(config).Grpo).ToList();
        Assert.That(grpo.Select(g => (g.DynamicSampling is not null, g.Entropy?.Controller?.Target)),
            Is.EqualTo(new (bool, double?)[] { (config.Grpo.DynamicSampling is not null, config.Grpo.Entropy?.Controller?.Target), (true, config.Grpo.Entropy?.Controller?.Target),
                (config.Grpo.DynamicSampling is not null, 0.5), (true, 0.5) }));
    }
}
