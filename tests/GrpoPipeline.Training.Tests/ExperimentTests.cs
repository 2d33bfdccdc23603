using GrpoPipeline.Core;
using NUnit.Framework;

namespace GrpoPipeline.Training.Tests;

/// <summary>The experiment runner: one run per variant and seed, rows per variant, and the time to a held-out target.</summary>
[TestFixture, NonParallelizable]
public sealed class ExperimentTests
{
    [Test]
    public void The_Deltas_Experiment_Produces_One_Row_Per_Mode_Over_All_Seeds()
    {
        var config = new TrainConfig { Epochs = 20, Task = new() { HeldOutSize = 16 }, Run = new RunOptions { HeldOutEvery = 5, Threads = 1 } };
        var runs = Experiment.Run(config, Experiment.DeltasModes, seeds: 2);
        var rows = Experiment.Summarize(runs, target: 0.99);

        Assert.That(runs, Has.Count.EqualTo(8));
        Assert.That(runs.Select(r => r.RewardCurve.Length), Is.All.EqualTo(20));
        Assert.That(runs.Select(r => r.HeldOut.Select(p => p.Epoch)), Is.All.EqualTo(new[] { 5, 10, 15, 20 }));
        Assert.That(runs.SelectMany(r => r.HeldOut).Select(p => p.TrainingSeconds), Is.All.GreaterThan(0.0));
        Assert.That(rows.Select(r => r.Variant), Is.EqualTo(new[] { "rewards", "centered", "normalized", "max" }));
        Assert.That(rows.Select(r => r.Seeds), Is.All.EqualTo(2));
        var centered = runs.Where(r => r.Variant == "centered").ToList();
        Assert.That(rows[1].FinalRewardMean, Is.EqualTo(centered.Average(r => r.FinalReward)).Within(1e-12));
        var table = Experiment.ToMarkdown(rows, config, 0.99, "deltas");
        Assert.That(table.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(2 + 4));
        Assert.That(table, Does.Contain("| normalized |").And.Contain("| max |").And.Contain("not reached"));
    }

    [Test]
    public void Seeds_Of_A_Variant_Differ()
    {
        var runs = Experiment.Run(new TrainConfig { Epochs = 5, Task = new() { HeldOutSize = 0 } }, [Experiment.DeltasModes[1]], seeds: 2);
        Assert.That(runs[0].Seed, Is.Not.EqualTo(runs[1].Seed));
        Assert.That(runs[0].RewardCurve, Is.Not.EqualTo(runs[1].RewardCurve));
    }

    [Test]
    public void Time_To_Target_Counts_Not_Reached_As_Slowest_And_Tracks_The_Lowest_After_Reaching()
    {
        // Hand-made runs: A reaches 99% at epoch 20 (10 s) and dips to 98% after; B at epoch 40 (30 s); C never.
        static ExperimentRun Run(long seed, params (int Epoch, double Seconds, double Exact)[] points) =>
            new("v", seed, [1], points.Select(p => new HeldOutPoint(p.Epoch, p.Seconds, p.Exact)).ToArray(), 1, [0]);
        var a = Run(0, (10, 5, 0.5), (20, 10, 0.99), (30, 15, 0.98), (40, 20, 1.0));
        var b = Run(1, (10, 5, 0.2), (20, 12, 0.9), (40, 30, 0.995));
        var c = Run(2, (10, 5, 0.1), (40, 30, 0.7));

        Assert.That(a.FirstReaching(0.99)?.Epoch, Is.EqualTo(20));
        Assert.That(a.LowestAfterReaching(0.99), Is.EqualTo(0.98));
        Assert.That(c.FirstReaching(0.99), Is.Null);
        Assert.That(a.HoldingFrom(0.99)?.Epoch, Is.EqualTo(40), "the dip at 30 restarts the hold");
        Assert.That(b.HoldingFrom(0.99)?.Epoch, Is.EqualTo(40));
        Assert.That(c.HoldingFrom(0.99), Is.Null);
        var row = Experiment.Summarize([a, b, c], 0.99).Single();
        Assert.That(row.Reached, Is.EqualTo(2));
        Assert.That(row.SecondsToTarget, Is.EqualTo(new double?[] { 10, 30, null }));
        Assert.That(row.MedianSecondsToTarget, Is.EqualTo(30), "the middle of 10, 30 and not-reached");
        Assert.That(row.MedianEpochsToTarget, Is.EqualTo(40));
        Assert.That(row.LowestAfterTarget, Is.EqualTo(0.98));
        Assert.That(Experiment.Summarize([a, c], 0.99).Single().MedianSecondsToTarget, Is.Null, "half the runs never reached it");
    }

    [Test]
    public void Ablation_Removes_Each_Tool_The_Config_Uses_Adds_Each_It_Lacks_And_Ends_With_None()
    {
        var config = TestConfigs.TinyRandom() with { Grpo = new GrpoOptions { DynamicSampling = new DynamicSamplingOptions(), Entropy = new EntropyOptions { Coef = 0.01 }, KlCoef = 0 } };
        var variants = Experiment.Ablation(config);

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
        Assert.That(Experiment.Tools.Where(t => t.IsOn(none)).Select(t => t.Tool), Is.Empty);
    }

    [Test]
    public void A_Finished_Run_Round_Trips_Through_Its_Json_File()
    {
        var run = new ExperimentRun("− dual clip", 3, [0.5, 0.75], [new HeldOutPoint(2, 1.5, 0.25)], 0.75, [0.1, 0.2]);
        var back = System.Text.Json.JsonSerializer.Deserialize<ExperimentRun>(System.Text.Json.JsonSerializer.Serialize(run, TrainConfig.Json), TrainConfig.Json)!;
        Assert.That((back.Variant, back.Seed, back.RewardCurve, back.HeldOut, back.FinalReward, back.TiedCurve),
            Is.EqualTo((run.Variant, run.Seed, run.RewardCurve, run.HeldOut, run.FinalReward, run.TiedCurve)));
    }
}
