using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using GrpoPipeline.Training.Experiments;
using NUnit.Framework;

namespace GrpoPipeline.Training.Tests.Experiments;

/// <summary>
/// The runner: one run per variant and seed, shards that split them, and an experiment directory from which a
/// stopped experiment resumes, training every run once.
/// </summary>
[TestFixture, NonParallelizable]
public sealed class ExperimentRunnerTests
{
    /// <summary>Two deltas modes × two seeds of the seed task, four epochs each, a held-out evaluation every two.</summary>
    static readonly TrainConfig Config = TestConfigs.Tiny(epochs: 4) with { Run = TestConfigs.Tiny().Run with { HeldOutEvery = 2 } };
    static readonly ExperimentVariant[] Variants = [ExperimentCatalogue.DeltasModes[1], ExperimentCatalogue.DeltasModes[3]];
    const int Seeds = 2;
    static readonly (string, long)[] AllRuns = [("centered", 0), ("centered", 1), ("max", 0), ("max", 1)];

    string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = TestConfigs.NewTempDir("experiment");

    [TearDown]
    public void TearDown() => TestConfigs.DeleteDir(_dir);

    /// <summary>A run as JSON with its wall times left out: what two trainings of the same config and seed share.</summary>
    static string WithoutWallClock(ExperimentRun run) =>
        JsonSerializer.Serialize(run with { HeldOut = run.HeldOut.Select(p => p with { TrainingSeconds = p.Epoch }).ToArray() }, TrainConfig.Json);

    static (string, long)[] Ids(IEnumerable<ExperimentRun> runs) => runs.Select(r => (r.Variant, r.Seed)).ToArray();

    Dictionary<string, byte[]> RunFiles() =>
        Directory.GetFiles(Path.Combine(_dir, ExperimentRunner.RunsFolder)).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);

    [Test]
    public void The_Deltas_Experiment_Produces_One_Row_Per_Mode_Over_All_Seeds()
    {
        var config = new TrainConfig { Epochs = 20, Task = new() { HeldOutSize = 16 }, Run = new RunOptions { HeldOutEvery = 5, Threads = 1 } };
        var runs = new ExperimentRunner().Run(config, ExperimentCatalogue.DeltasModes, seeds: 2);
        var report = new ExperimentReport(ExperimentCatalogue.Experiments[0], config, 0.99, runs, "grpo experiment deltas");

        Assert.That(runs, Has.Count.EqualTo(12));
        Assert.That(runs.Select(r => r.RewardCurve.Length), Is.All.EqualTo(20));
        Assert.That(runs.Select(r => r.HeldOut.Select(p => p.Epoch)), Is.All.EqualTo(new[] { 5, 10, 15, 20 }));
        Assert.That(runs.SelectMany(r => r.HeldOut).Select(p => p.TrainingSeconds), Is.All.GreaterThan(0.0));
        Assert.That(runs.Select(r => r.FinalReward), Is.EqualTo(runs.Select(r => r.RewardCurve[^2..].Average())), "the last tenth of 20 epochs");
        Assert.That(report.Summaries.Select(r => r.Variant), Is.EqualTo(new[] { "rewards", "centered", "normalized", "max", "batch_normalized", "rloo" }));
        Assert.That(report.Summaries.Select(r => r.Seeds), Is.All.EqualTo(2));
        var centered = runs.Where(r => r.Variant == "centered").ToList();
        Assert.That(report.Summaries[1].FinalRewardMean, Is.EqualTo(centered.Average(r => r.FinalReward)).Within(1e-12));
        Assert.That(report.Table.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(2 + 6));
        Assert.That(report.Table, Does.Contain("| normalized |").And.Contain("| max |").And.Contain("| rloo |").And.Contain("not reached"));
    }

    [Test]
    public void Seeds_Of_A_Variant_Differ()
    {
        var runs = new ExperimentRunner().Run(new TrainConfig { Epochs = 5, Task = new() { HeldOutSize = 0 } }, [ExperimentCatalogue.DeltasModes[1]], seeds: 2);
        Assert.That(runs[0].Seed, Is.Not.EqualTo(runs[1].Seed));
        Assert.That(runs[0].RewardCurve, Is.Not.EqualTo(runs[1].RewardCurve));
    }

    [Test]
    public void Shards_Split_The_Runs_By_Index_And_Train_Each_As_The_Whole_Does()
    {
        var whole = new ExperimentRunner().Run(Config, Variants, Seeds);
        var shards = Enumerable.Range(0, 3).Select(i => new ExperimentRunner { Shard = new ExperimentShard(i, 3) }.Run(Config, Variants, Seeds)).ToList();

        Assert.That(Ids(whole), Is.EqualTo(AllRuns));
        Assert.That(shards.Select(Ids), Is.EqualTo(new[] { new[] { AllRuns[0], AllRuns[3] }, [AllRuns[1]], [AllRuns[2]] }), "run i goes to shard i mod 3");
        var byId = shards.SelectMany(s => s).ToDictionary(r => (r.Variant, r.Seed));
        foreach (var run in whole)
            Assert.That(WithoutWallClock(byId[(run.Variant, run.Seed)]), Is.EqualTo(WithoutWallClock(run)), $"{run.Variant} seed {run.Seed}");
    }

    [Test]
    public void A_Stopped_Experiment_Resumes_Training_Only_The_Missing_Runs_And_Reports_As_An_Uninterrupted_One()
    {
        var uninterrupted = new ExperimentRunner().Run(Config, Variants, Seeds);

        // Stopped (Ctrl+C) in the third run: two runs have their files.
        using var stop = new CancellationTokenSource();
        var first = new List<ExperimentRun>();
        var stopped = new ExperimentRunner { ExperimentDirectory = _dir, RunFinished = run => { first.Add(run); if (first.Count == 2) stop.Cancel(); } };
        Assert.Throws<OperationCanceledException>(() => stopped.Run(Config, Variants, Seeds, stop.Token));
        Assert.That(Ids(first), Is.EqualTo(AllRuns[..2]));
        var filesWhenStopped = RunFiles();
        Assert.That(filesWhenStopped, Has.Count.EqualTo(2));

        var second = new List<ExperimentRun>();
        var progress = new List<(string, long, int)>();
        var resumed = new ExperimentRunner
        {
            ExperimentDirectory = _dir,
            RunFinished = second.Add,
            Progress = new Recorder(p => progress.Add((p.Variant, p.Seed, p.Epoch))),
        }.Run(Config, Variants, Seeds);

        Assert.That(Ids(second), Is.EqualTo(AllRuns[2..]), "only the runs without a file are trained");
        Assert.That(progress, Is.EqualTo(new[] { ("max", 0L, 2), ("max", 0L, 4), ("max", 1L, 2), ("max", 1L, 4) }), "progress of the trained runs only");
        Assert.That(Ids(resumed), Is.EqualTo(AllRuns));
        Assert.That(resumed.Take(2).Select(r => r.HeldOut), Is.EqualTo(first.Select(r => r.HeldOut)), "the first two are read back, wall times included");
        var files = RunFiles();
        Assert.That(files, Has.Count.EqualTo(4));
        foreach (var (name, bytes) in filesWhenStopped) Assert.That(files[name], Is.EqualTo(bytes), $"{name} was written again");

        Assert.That(resumed.Select(WithoutWallClock), Is.EqualTo(uninterrupted.Select(WithoutWallClock)));
        var definition = ExperimentCatalogue.Experiments[0];
        string Report(IEnumerable<ExperimentRun> runs) =>
            new ExperimentReport(definition, Config, 0.5, runs.Select(r => JsonSerializer.Deserialize<ExperimentRun>(WithoutWallClock(r), TrainConfig.Json)!).ToList(), "c").Markdown;
        Assert.That(Report(resumed), Is.EqualTo(Report(uninterrupted)));
    }

    [Test]
    public void Shards_Sharing_A_Directory_Leave_The_Whole_Experiment_Nothing_To_Train()
    {
        var trained = new List<ExperimentRun>();
        var fromShards = Enumerable.Range(0, 2)
            .SelectMany(i => new ExperimentRunner { ExperimentDirectory = _dir, Shard = new ExperimentShard(i, 2), RunFinished = trained.Add }.Run(Config, Variants, Seeds))
            .ToList();
        Assert.That(trained, Has.Count.EqualTo(4));

        var again = new List<ExperimentRun>();
        var whole = new ExperimentRunner { ExperimentDirectory = _dir, RunFinished = again.Add }.Run(Config, Variants, Seeds);

        Assert.That(again, Is.Empty, "every run was read from the shards' files");
        Assert.That(Ids(whole), Is.EqualTo(AllRuns));
        var byId = fromShards.ToDictionary(r => (r.Variant, r.Seed));
        Assert.That(whole.Select(r => JsonSerializer.Serialize(r, TrainConfig.Json)),
            Is.EqualTo(whole.Select(r => JsonSerializer.Serialize(byId[(r.Variant, r.Seed)], TrainConfig.Json))), "wall times included");
    }

    [Test]
    public void A_Run_File_Written_Before_Is_Read_Under_The_Variants_Label_Instead_Of_Trained()
    {
        // A run file as earlier versions wrote it: runs/<first 16 hex digits of the SHA-256 of the run's config JSON>.json.
        var seed0 = Variants[0].Apply(Config) with { Seed = Config.Seed };
        var name = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(seed0.ToJson())))[..16] + ".json";
        Directory.CreateDirectory(Path.Combine(_dir, "runs"));
        File.WriteAllText(Path.Combine(_dir, "runs", name), """
            {
              "variant": "centred (an older label)",
              "seed": 0,
              "rewardCurve": [ 1, 2, 3, 4 ],
              "heldOut": [ { "epoch": 2, "trainingSeconds": 0.5, "exact": 0.25 }, { "epoch": 4, "trainingSeconds": 1, "exact": 0.5 } ],
              "finalReward": 4,
              "tiedCurve": [ 0, 0, 0, 0 ],
              "finalHeldOutExact": 0.5
            }
            """);

        var trained = new List<ExperimentRun>();
        var runs = new ExperimentRunner { ExperimentDirectory = _dir, RunFinished = trained.Add }.Run(Config, [Variants[0]], Seeds);

        Assert.That(Ids(trained), Is.EqualTo(new[] { ("centered", 1L) }));
        Assert.That(Ids(runs), Is.EqualTo(AllRuns[..2]));
        Assert.That((runs[0].RewardCurve, runs[0].FinalHeldOutExact), Is.EqualTo((new double[] { 1, 2, 3, 4 }, 0.5)), "read, not trained");
        Assert.That(ExperimentRunner.RunFile(_dir, seed0), Is.EqualTo(Path.Combine(_dir, "runs", name)));
        Assert.That(RunFiles().Keys.Order(), Is.EqualTo(new[] { name, Path.GetFileName(ExperimentRunner.RunFile(_dir, seed0 with { Seed = 1 })) }.Order()));
    }

    [Test]
    public void A_Shard_Reads_What_It_Writes_And_Nothing_Out_Of_Range()
    {
        Assert.That(ExperimentShard.TryParse("1/3", out var shard), Is.True);
        Assert.That((shard!.Index, shard.Count, shard.ToString()), Is.EqualTo((1, 3, "1/3")));
        foreach (var bad in new[] { "3/3", "-1/2", "1/0", "1", "1/2/3", "a/2" })
            Assert.That(ExperimentShard.TryParse(bad, out _), Is.False, bad);
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new ExperimentShard(2, 2));
    }

    /// <summary>An IProgress that records at once, on the reporting thread (Progress&lt;T&gt; posts to the thread pool).</summary>
    sealed class Recorder(Action<ExperimentProgress> record) : IProgress<ExperimentProgress>
    {
        public void Report(ExperimentProgress value) => record(value);
    }
}
