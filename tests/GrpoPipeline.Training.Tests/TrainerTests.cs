using System.Text.Json.Nodes;
using GrpoPipeline.Core;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;
using static GrpoPipeline.Training.Tests.TestConfigs;

namespace GrpoPipeline.Training.Tests;

/// <summary>The GRPO trainer end to end: learning, the frozen reference, determinism and the metrics it logs.</summary>
[TestFixture, NonParallelizable]   // torch's global generator seeds the initial weights
public sealed class TrainerTests
{
    static readonly string[] RequiredKeys =
    [
        "reward/mean", "reward/std", "reward/min", "reward/max", "reward/inclusion_ordering", "reward/sort_distance",
        "reward/exact", "reward/frac_zero_std", "loss/policy", "loss/kl", "clip/ratio_low", "clip/ratio_high",
        "policy/entropy", "grad/norm", "perf/epoch_s", "perf/samples_per_s",
    ];

    string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = NewTempDir("trainer");

    [TearDown]
    public void TearDown() => DeleteDir(_dir);

    [Test]
    public void Training_The_Seed_Task_With_Centered_Deltas_Raises_The_Mean_Reward()
    {
        var config = new TrainConfig
        {
            Epochs = 400,
            Task = new() { HeldOutSize = 0 },
            Grpo = new GrpoOptions { Deltas = DeltasMode.Centered, LearningRate = 1e-2 },
        };
        using var trainer = new GrpoTrainer(TrainingState.Create(config));
        var initial = Snapshot(trainer.State.Policy);

        var rewards = Run(trainer, 400).Select(m => m["reward/mean"]).ToList();

        double first = rewards.Take(20).Average(), last = rewards.TakeLast(20).Average();
        TestContext.Out.WriteLine($"mean reward: first 20 epochs {first:F3}, last 20 epochs {last:F3}");
        Assert.That(last, Is.GreaterThanOrEqualTo(first + 0.3), "mean reward did not go up by a clear margin");
        Assert.That(SameWeights(Snapshot(trainer.State.Policy), initial), Is.False, "the policy's parameters did not change");
        Assert.That(trainer.State.Epoch, Is.EqualTo(400));
    }

    [Test]
    public void Reference_Stays_Frozen_At_The_Initial_Policy_When_RefPeriod_Is_Zero()
    {
        var config = Tiny() with { Grpo = new GrpoOptions { KlCoef = 0.1, RefPeriod = 0, LearningRate = 1e-2 } };
        using var trainer = new GrpoTrainer(TrainingState.Create(config));
        var initial = Snapshot(trainer.State.Policy);

        Run(trainer, 25);

        var reference = trainer.State.Reference;
        Assert.That(reference, Is.Not.Null);
        Assert.That(SameWeights(Snapshot(reference!), initial), Is.True, "the reference moved away from the initial policy");
        Assert.That(reference!.parameters().Select(p => p.requires_grad), Is.All.False, "reference parameters must not require gradients");
        Assert.That(reference.training, Is.False, "the reference should be in eval mode");
        Assert.That(SameWeights(Snapshot(trainer.State.Policy), initial), Is.False, "the policy's parameters did not change");
    }

    [Test]
    public void Reference_Is_Refreshed_At_The_Start_Of_Every_Epoch_Index_That_Is_A_Multiple_Of_RefPeriod()
    {
        var config = Tiny() with { Grpo = new GrpoOptions { KlCoef = 0.1, RefPeriod = 5, LearningRate = 1e-2 } };
        using var trainer = new GrpoTrainer(TrainingState.Create(config));
        var initial = Snapshot(trainer.State.Policy);

        Run(trainer, 5);   // epoch indices 0..4: the reference is the policy at the start of index 0
        Assert.That(SameWeights(Snapshot(trainer.State.Reference!), initial), Is.True,
            "within the first period the reference must stay the initial policy");
        var policyBeforeIndex5 = Snapshot(trainer.State.Policy);
        Assert.That(SameWeights(policyBeforeIndex5, initial), Is.False);

        Run(trainer, 2);   // indices 5 (refresh at its start) and 6

        var reference = trainer.State.Reference!;
        Assert.That(SameWeights(Snapshot(reference), policyBeforeIndex5), Is.True,
            "the reference must equal the policy as it was at the start of epoch index 5");
        Assert.That(SameWeights(Snapshot(trainer.State.Policy), policyBeforeIndex5), Is.False, "the policy kept training");
        Assert.That(reference.parameters().Select(p => p.requires_grad), Is.All.False, "a refresh must keep the reference frozen");
    }

    [Test]
    public void Without_A_Kl_Penalty_There_Is_No_Reference_And_The_Kl_Loss_Is_Zero()
    {
        var config = Tiny() with { Grpo = new GrpoOptions { KlCoef = 0 } };
        using var trainer = new GrpoTrainer(TrainingState.Create(config));
        var initial = Snapshot(trainer.State.Policy);

        var metrics = Run(trainer, 12);

        Assert.That(trainer.State.Reference, Is.Null);
        Assert.That(metrics.Select(m => m["loss/kl"]), Is.All.EqualTo(0));
        Assert.That(SameWeights(Snapshot(trainer.State.Policy), initial), Is.False, "the policy's parameters did not change");
    }

    [Test]
    public void Same_Config_And_Seed_Give_Identical_Metrics_And_Another_Seed_Differs()
    {
        var config = Tiny(50);
        var a = TrainToDir(config, "a");
        var b = TrainToDir(config, "b");
        var c = TrainToDir(config with { Seed = 1 }, "c");

        Assert.That(a, Has.Count.EqualTo(50));
        Assert.That(b, Is.EqualTo(a), "two runs of the same config and seed differ");
        Assert.That(c, Has.Count.EqualTo(50));
        Assert.That(c, Is.Not.EqualTo(a), "another seed gave identical metrics");
    }

    List<string> TrainToDir(TrainConfig config, string name)
    {
        var run = new RunDirectory(Path.Combine(_dir, name));
        using (var training = TrainingRun.StartNew(config, run, NullLogger.Instance)) training.Train();
        return MetricsWithoutWallClock(run.MetricsPath);
    }

    [Test]
    public void Every_Metrics_Line_Holds_The_Required_Keys_And_HeldOut_Metrics_On_Schedule()
    {
        var config = Tiny(25) with { Run = new RunOptions { LogEvery = 1000, HeldOutEvery = 10, CheckpointEvery = 0 } };
        var run = new RunDirectory(Path.Combine(_dir, "run"));
        using (var training = TrainingRun.StartNew(config, run, NullLogger.Instance)) training.Train();

        var lines = File.ReadAllLines(run.MetricsPath).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.That(lines, Has.Count.EqualTo(25));
        using (Assert.EnterMultipleScope())
        {
            for (int i = 0; i < lines.Count; i++)
            {
                int epoch = i + 1;
                var line = lines[i];
                Assert.That((int)line["epoch"]!, Is.EqualTo(epoch));
                foreach (var key in RequiredKeys)
                {
                    Assert.That(line.ContainsKey(key), Is.True, $"epoch {epoch} lacks {key}");
                    Assert.That(line[key], Is.Not.Null, $"epoch {epoch}: {key} is not finite");
                }
                bool heldOutDue = epoch % 10 == 0 || epoch == 25;
                Assert.That(line.ContainsKey("heldout/exact"), Is.EqualTo(heldOutDue), $"epoch {epoch}: heldout/exact");
                Assert.That(line.ContainsKey("heldout/reward"), Is.EqualTo(heldOutDue), $"epoch {epoch}: heldout/reward");
                if (heldOutDue)
                    Assert.That((double)line["heldout/exact"]!, Is.InRange(0.0, 1.0));
            }
        }
    }

    static IEnumerable<TestCaseData> GrpoVariants()
    {
        foreach (var mode in Enum.GetValues<DeltasMode>())
            yield return new TestCaseData(new GrpoOptions { Deltas = mode }).SetArgDisplayNames($"deltas={mode}");
        foreach (var loss in Enum.GetValues<LossMode>())
            yield return new TestCaseData(new GrpoOptions { Loss = loss }).SetArgDisplayNames($"loss={loss}");
        foreach (var kl in Enum.GetValues<KlEstimator>())
            yield return new TestCaseData(new GrpoOptions { KlEstimator = kl, KlCoef = 0.1, RefPeriod = 3 }).SetArgDisplayNames($"kl={kl}");
    }

    [TestCaseSource(nameof(GrpoVariants))]
    public void Every_Deltas_Loss_And_Kl_Variant_Trains_With_Finite_Losses(GrpoOptions grpo)
    {
        var config = Tiny() with { Grpo = grpo with { LearningRate = 1e-2 } };
        using var trainer = new GrpoTrainer(TrainingState.Create(config));
        var initial = Snapshot(trainer.State.Policy);

        var metrics = Run(trainer, 8);

        foreach (var key in new[] { "loss/policy", "loss/kl", "grad/norm", "policy/entropy", "reward/mean" })
            Assert.That(metrics.Select(m => m[key]), Is.All.Matches<double>(double.IsFinite), $"{key} is not finite");
        if (grpo.KlEstimator is not KlEstimator.K1)   // k1 is unbiased but can be negative per sample
            Assert.That(metrics.Select(m => m["loss/kl"]), Is.All.GreaterThanOrEqualTo(-1e-6));
        Assert.That(SameWeights(Snapshot(trainer.State.Policy), initial), Is.False, "the policy's parameters did not change");
    }

    [Test]
    public void A_Random_Prompt_Task_Trains()
    {
        var config = TinyRandom() with { Grpo = new GrpoOptions { LearningRate = 1e-2 } };
        using var trainer = new GrpoTrainer(TrainingState.Create(config));
        var initial = Snapshot(trainer.State.Policy);

        var metrics = Run(trainer, 10);

        Assert.That(metrics.Select(m => m["loss/policy"]), Is.All.Matches<double>(double.IsFinite));
        Assert.That(metrics.Select(m => m["reward/mean"]), Is.All.InRange(0.0, 7.0), "L=4 allows rewards 0..2L-1");
        Assert.That(SameWeights(Snapshot(trainer.State.Policy), initial), Is.False, "the policy's parameters did not change");
        var (exact, reward, _) = trainer.EvaluateHeldOut();
        Assert.That(exact, Is.InRange(0.0, 1.0));
        Assert.That(reward, Is.InRange(0.0, 7.0));
    }

    [Test]
    public void A_Decoder_Learns_One_Digit_Addition_From_Its_Digit_Share_Reward()
    {
        var config = new TrainConfig
        {
            RunName = "add",
            Seed = 1,
            Epochs = 80,
            Task = new TaskOptions { Name = "add", Add = new AddOptions { MinDigits = 1, MaxDigits = 1 }, BatchSize = 16, HeldOutSize = 10 },
            Policy = new PolicyOptions { Kind = PolicyKind.Decoder, DModel = 32, Heads = 2, Layers = 1, MlpDim = 64 },
            Grpo = new GrpoOptions { GroupSize = 8, InnerSteps = 2, ClipLow = 0.2, ClipHigh = 0.2, KlCoef = 0, LearningRate = 3e-3, MaxGradNorm = 1 },
            Run = new RunOptions { Threads = 1 },
        };
        using var trainer = new GrpoTrainer(TrainingState.Create(config));

        var metrics = Run(trainer, config.Epochs);

        double first = metrics.Take(10).Average(m => m[MetricKeys.Reward("digitShare")]), last = metrics.TakeLast(10).Average(m => m[MetricKeys.Reward("digitShare")]);
        TestContext.Out.WriteLine($"digit share {first:F3} → {last:F3}");
        Assert.That(last, Is.GreaterThan(first + 0.15), "the share of right digits rises (0.10 → 0.30 on this seed)");
        Assert.That(metrics[^1].TryGet(MetricKeys.Reward("sortDistance"), out _), Is.False, "the task's components, not sorting's, are logged");
        Assert.That(metrics[^1][MetricKeys.ResponseLengthMax], Is.LessThanOrEqualTo(3), "at most two digits and EOS");
    }

    [Test]
    public void A_Decoder_Learns_A_Small_Variable_Length_Task_Token_By_Token()
    {
        var config = new TrainConfig
        {
            RunName = "decoder",
            Seed = 2,
            Epochs = 120,
            Task = new TaskOptions { Kind = TaskKind.Variable, MinLength = 1, MaxLength = 3, VocabSize = 4, BatchSize = 16, HeldOutSize = 60 },
            Rewards = new RewardWeights { { "inclusionOrdering", 0 }, { "sortDistance", 1 } },
            Policy = new PolicyOptions { Kind = PolicyKind.Decoder, DModel = 32, Heads = 2, Layers = 1, MlpDim = 64 },
            Grpo = new GrpoOptions { GroupSize = 8, InnerSteps = 2, ClipLow = 0.2, ClipHigh = 0.2, KlCoef = 0, LearningRate = 3e-3, MaxGradNorm = 1 },
            Run = new RunOptions { Threads = 1 },
        };
        using var trainer = new GrpoTrainer(TrainingState.Create(config));
        var initial = Snapshot(trainer.State.Policy);
        var before = trainer.EvaluateHeldOut();

        var metrics = Run(trainer, config.Epochs);

        var after = trainer.EvaluateHeldOut();
        double first = metrics.Take(10).Average(m => m[MetricKeys.RewardMean]), last = metrics.TakeLast(10).Average(m => m[MetricKeys.RewardMean]);
        TestContext.Out.WriteLine($"reward {first:F3} → {last:F3}; held-out exact {before.Exact:P0} → {after.Exact:P0}; " +
            $"length {metrics[0][MetricKeys.ResponseLengthMean]:F2} → {metrics[^1][MetricKeys.ResponseLengthMean]:F2}");
        Assert.That(SameWeights(Snapshot(trainer.State.Policy), initial), Is.False, "the policy's parameters did not change");
        Assert.That(last, Is.GreaterThan(first + 0.2), "the sort-distance reward rises");
        Assert.That(after.Exact, Is.GreaterThan(before.Exact + 0.2), "greedy held-out exact match rises");
        Assert.That(after.ExactByLength.Keys, Is.EqualTo(new[] { 1, 2, 3 }), "exact match is reported per prompt length");
        foreach (var m in metrics)
        {
            Assert.That(m[MetricKeys.ResponseLengthMin], Is.InRange(1.0, 4.0), "a response has 1..maxLength+1 tokens, EOS included");
            Assert.That(m[MetricKeys.ResponseLengthMax], Is.InRange(m[MetricKeys.ResponseLengthMean], 4.0));
            Assert.That(m[MetricKeys.ResponseTruncated], Is.InRange(0.0, 1.0));
            Assert.That(m[MetricKeys.PolicyApproxKlOld], Is.GreaterThanOrEqualTo(-1e-6), "(r − 1) − log r ≥ 0, up to float rounding");
        }
    }
}
