using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;
using static GrpoPipeline.Training.Tests.TestConfigs;

namespace GrpoPipeline.Training.Tests;

/// <summary>Checkpoints: exact round trips, resume equal to an uninterrupted run, corruption and crash safety.</summary>
[TestFixture, NonParallelizable]   // torch's global generator seeds the initial weights
public sealed class CheckpointTests
{
    string _dir = null!;
    RunDirectory _run = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = NewTempDir("checkpoint");
        _run = new RunDirectory(Path.Combine(_dir, "run"));
    }

    [TearDown]
    public void TearDown() => DeleteDir(_dir);

    static TrainConfig WithReference(TrainConfig config) =>
        config with { Grpo = new GrpoOptions { KlCoef = 0.1, RefPeriod = 5, LearningRate = 1e-2 } };

    /// <summary>Trains a fresh run of <paramref name="config"/> to its end in <paramref name="run"/>.</summary>
    static void TrainNew(TrainConfig config, RunDirectory run)
    {
        using var training = TrainingRun.StartNew(config, run, NullLogger.Instance);
        training.Train();
    }

    [Test]
    public void Save_Then_Load_Restores_Weights_Epoch_Config_And_The_Next_Epochs()
    {
        var config = WithReference(Tiny(100));
        using var original = new GrpoTrainer(TrainingState.Create(config));
        Run(original, 7);
        var saved = Checkpoint.Save(original.State, _run);

        using var restored = new GrpoTrainer(Checkpoint.Load(saved));

        Assert.That(Path.GetFileName(saved), Is.EqualTo("epoch-000007"));
        Assert.That(restored.State.Epoch, Is.EqualTo(7));
        Assert.That(restored.State.Config.ToJson(), Is.EqualTo(config.ToJson()));
        Assert.That(SameWeights(Snapshot(restored.State.Policy), Snapshot(original.State.Policy)), Is.True, "policy weights differ");
        Assert.That(restored.State.Reference, Is.Not.Null);
        Assert.That(SameWeights(Snapshot(restored.State.Reference!), Snapshot(original.State.Reference!)), Is.True, "reference weights differ");
        Assert.That(restored.State.Reference!.parameters().Select(p => p.requires_grad), Is.All.False);
        Assert.That(Checkpoint.ReadManifest(saved).Sha256.Keys,
            Is.EquivalentTo(new[] { Checkpoint.PolicyFile, Checkpoint.ReferenceFile, Checkpoint.OptimizerFile }));

        // Epoch indices 7..11 include a reference refresh at 10: optimizer state, both generators and the
        // reference must all have been restored for these to match.
        for (int i = 0; i < 5; i++)
        {
            var expected = WithoutWallClock(original.RunEpoch());
            var actual = WithoutWallClock(restored.RunEpoch());
            Assert.That(actual, Is.EqualTo(expected), $"epoch {8 + i} differs after the round trip");
        }
        Assert.That(SameWeights(Snapshot(restored.State.Policy), Snapshot(original.State.Policy)), Is.True);
    }

    [Test]
    public void A_Resumed_Run_Equals_An_Uninterrupted_One()
    {
        var config = WithReference(Tiny(60)) with { Run = new RunOptions { LogEvery = 1000, HeldOutEvery = 20, CheckpointEvery = 20 } };
        var uninterrupted = new RunDirectory(Path.Combine(_dir, "a"));
        TrainNew(config, uninterrupted);

        // Run B stops after a checkpoint at epoch 40 and "crashes" after logging epoch 41.
        TrainNew(config with { Epochs = 40 }, _run);
        Assert.That(_run.LatestCheckpoint(), Does.EndWith("epoch-000040"));
        var bogus = File.ReadLines(_run.MetricsPath).Last().Replace("\"epoch\":40,", "\"epoch\":41,");
        File.AppendAllText(_run.MetricsPath, bogus + "\n");

        using (var resumed = TrainingRun.Resume(_run, 60, NullLogger.Instance))
        {
            Assert.That(resumed.State.Epoch, Is.EqualTo(40));
            Assert.That(File.ReadAllLines(_run.MetricsPath), Has.Length.EqualTo(40), "resume must drop metrics logged after the checkpoint");
            resumed.Train();
        }

        var expected = MetricsWithoutWallClock(uninterrupted.MetricsPath);
        var actual = MetricsWithoutWallClock(_run.MetricsPath);
        Assert.That(actual, Has.Count.EqualTo(60));
        Assert.That(actual, Is.EqualTo(expected));
        Assert.That(File.ReadAllText(_run.ConfigPath), Is.EqualTo(File.ReadAllText(uninterrupted.ConfigPath)),
            "resume with --epochs should record the extended config");
        using var a = Checkpoint.Load(uninterrupted.LatestCheckpoint()!);
        using var b = Checkpoint.Load(_run.LatestCheckpoint()!);
        Assert.That(b.Epoch, Is.EqualTo(60));
        Assert.That(SameWeights(Snapshot(b.Policy), Snapshot(a.Policy)), Is.True, "final weights differ");
    }

    [Test]
    public void A_Checkpoint_Written_With_The_Flat_Keys_Of_0_2_Resumes_Exactly()
    {
        // Every tool whose keys moved, none at its defaults; a target above ln 6 keeps the controller's coefficient rising,
        // so the resume must take it from the checkpoint.
        var config = TinyRandom(20) with
        {
            Grpo = new GrpoOptions
            {
                GroupSize = 4, InnerSteps = 2, LearningRate = 0.01, KlCoef = 0,
                DynamicSampling = new DynamicSamplingOptions { MaxBatches = 3 },
                Entropy = new EntropyOptions { Coef = 0.002, Controller = new EntropyControllerOptions { Target = 3, Step = 0.001, Max = 0.2 } },
                Overlap = new OverlapOptions { IsTruncation = 1.5 },
            },
        };
        var uninterrupted = new RunDirectory(Path.Combine(_dir, "a"));
        TrainNew(config, uninterrupted);
        TrainNew(config with { Epochs = 10 }, _run);

        // The checkpoint as 0.2 wrote it: the same config, with the flat keys.
        var manifestPath = Path.Combine(_run.LatestCheckpoint()!, Checkpoint.ManifestFile);
        var manifest = JsonNode.Parse(File.ReadAllText(manifestPath))!;
        var grpo = manifest["config"]!["grpo"]!.AsObject();
        foreach (var nested in new[] { "dynamicSampling", "entropy", "overlap" }) Assert.That(grpo.Remove(nested), Is.True, $"premise: grpo.{nested} is written");
        grpo["dynamicSampling"] = true;
        grpo["dynamicSamplingMaxBatches"] = 3;
        grpo["entropyCoef"] = 0.002;
        grpo["entropyTarget"] = 3;
        grpo["entropyCoefStep"] = 0.001;
        grpo["entropyCoefMax"] = 0.2;
        grpo["overlapRollouts"] = true;
        grpo["isTruncation"] = 1.5;
        File.WriteAllText(manifestPath, manifest.ToJsonString());

        using (var resumed = TrainingRun.Resume(_run, 20, NullLogger.Instance))
        {
            Assert.That(resumed.State.Config.Grpo, Is.EqualTo(config.Grpo));
            Assert.That(resumed.State.EntropyCoef, Is.EqualTo(0.012).Within(1e-12), "premise: ten controller steps up from 0.002");
            resumed.Train();
        }

        var expected = MetricsWithoutWallClock(uninterrupted.MetricsPath);
        Assert.That(expected[^1], Does.Contain("\"overlap/is_weight\"").And.Contain("\"dynamic/kept_share\"").And.Contain("\"policy/entropy_coef\""),
            "premise: every tool ran");
        Assert.That(MetricsWithoutWallClock(_run.MetricsPath), Is.EqualTo(expected));
    }

    [Test]
    public void A_Flipped_Byte_In_A_Weight_File_Is_Reported_As_Corrupt()
    {
        var checkpoint = SaveSmallCheckpoint();
        var policy = Path.Combine(checkpoint, Checkpoint.PolicyFile);
        var bytes = File.ReadAllBytes(policy);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(policy, bytes);

        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(checkpoint).Dispose());
        Assert.That(e!.Message, Does.Contain("corrupt").And.Contain(Checkpoint.PolicyFile));
    }

    [Test]
    public void A_Checkpoint_Without_Its_Manifest_Is_Reported_As_Incomplete()
    {
        var checkpoint = SaveSmallCheckpoint();
        File.Delete(Path.Combine(checkpoint, Checkpoint.ManifestFile));

        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(checkpoint).Dispose());
        Assert.That(e!.Message, Does.Contain("incomplete").And.Contain(Checkpoint.ManifestFile));
    }

    [Test]
    public void A_Checkpoint_Missing_A_Weight_File_Is_Reported_As_Incomplete()
    {
        var checkpoint = SaveSmallCheckpoint();
        File.Delete(Path.Combine(checkpoint, Checkpoint.OptimizerFile));

        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(checkpoint).Dispose());
        Assert.That(e!.Message, Does.Contain("incomplete").And.Contain(Checkpoint.OptimizerFile));
    }

    [TestCase("{ this is not json")]
    [TestCase("null")]
    [TestCase("{\"formatVersion\": 1}")]
    [TestCase("{\"formatVersion\": 1, \"unknownKey\": 3}")]
    public void A_Garbage_Manifest_Is_Rejected(string manifest)
    {
        var checkpoint = SaveSmallCheckpoint();
        File.WriteAllText(Path.Combine(checkpoint, Checkpoint.ManifestFile), manifest);

        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(checkpoint).Dispose());
        Assert.That(e!.Message, Does.Contain(checkpoint));
    }

    [TestCase("config")]
    [TestCase("shape")]
    [TestCase("sha256")]
    [TestCase("promptSamplerState")]
    [TestCase("responseGeneratorState")]
    public void A_Manifest_With_A_Null_Field_Is_Rejected_As_Corrupt(string field)
    {
        var checkpoint = SaveSmallCheckpoint();
        var path = Path.Combine(checkpoint, Checkpoint.ManifestFile);
        var manifest = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        Assert.That(manifest.ContainsKey(field), Is.True, $"the manifest has no '{field}'");
        manifest[field] = null;
        File.WriteAllText(path, manifest.ToJsonString());

        // A hand-edited or torn manifest must be a clear CheckpointException (grpo exit code 2), not a crash.
        Assert.That(() => Checkpoint.Load(checkpoint).Dispose(), Throws.TypeOf<CheckpointException>());
    }

    [Test]
    public void A_Manifest_With_An_Invalid_Config_Is_Rejected()
    {
        var checkpoint = SaveSmallCheckpoint();
        var path = Path.Combine(checkpoint, Checkpoint.ManifestFile);
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"groupSize\": 10", "\"groupSize\": 1"));

        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(checkpoint).Dispose());
        Assert.That(e!.Message, Does.Contain("grpo.groupSize"));
    }

    [Test]
    public void A_Missing_Checkpoint_Folder_Is_Rejected()
    {
        var missing = Path.Combine(_dir, "no-such-checkpoint");

        Assert.That(() => Checkpoint.Load(missing), Throws.TypeOf<CheckpointException>().With.Message.Contain("does not exist"));
        Assert.That(() => Checkpoint.Resolve(missing), Throws.TypeOf<CheckpointException>());
    }

    void Corrupt(string checkpoint)
    {
        var policy = Path.Combine(checkpoint, Checkpoint.PolicyFile);
        var bytes = File.ReadAllBytes(policy);
        bytes[^1] ^= 0xFF;
        File.WriteAllBytes(policy, bytes);
    }

    [Test]
    public void Resume_From_A_Corrupt_Latest_Checkpoint_Falls_Back_To_The_One_Before_And_Keeps_It_Aside()
    {
        TrainNew(Tiny(20), _run);
        var latest = _run.LatestCheckpoint()!;
        Corrupt(latest);
        var damaged = File.ReadAllBytes(Path.Combine(latest, Checkpoint.PolicyFile));
        var warnings = new List<string>();

        using (var resumed = TrainingRun.Resume(_run, 30, NullLogger.Instance))
            Assert.That(resumed.State.Epoch, Is.EqualTo(10), "resumed from the checkpoint before the damaged one");
        Assert.That(_run.LatestCheckpoint(), Is.EqualTo(Path.Combine(_run.CheckpointsDir, "epoch-000010")));
        Assert.That(File.ReadAllBytes(Path.Combine(latest + ".corrupt", Checkpoint.PolicyFile)), Is.EqualTo(damaged), "kept as it was");
        Assert.That(() => Checkpoint.NewestGood(_run, warnings.Add), Throws.Nothing);
        Assert.That(warnings, Is.Empty, "the damaged checkpoint is out of the way");
    }

    [Test]
    public void Resume_With_No_Intact_Checkpoint_Throws_And_Deletes_No_File()
    {
        TrainNew(Tiny(20), _run);
        foreach (var checkpoint in _run.Checkpoints().ToList()) Corrupt(checkpoint);
        var before = FileContents(_run.Root).Values.Select(Convert.ToHexString).Order().ToList();

        Assert.That(() => TrainingRun.Resume(_run, 30, NullLogger.Instance).Dispose(),
            Throws.TypeOf<CheckpointException>().With.Message.Contain("no checkpoint").And.Message.Contain("is intact"));
        Assert.That(FileContents(_run.Root).Values.Select(Convert.ToHexString).Order(), Is.EqualTo(before), "every byte is still there (renamed .corrupt)");
    }

    [Test]
    public void A_Leftover_Temporary_Folder_Is_Never_Taken_For_A_Checkpoint()
    {
        TrainNew(Tiny(10), _run);
        // A crash while writing the epoch-20 checkpoint: a temp folder with a weight file but no manifest.
        var tmp = Path.Combine(_run.CheckpointsDir, ".epoch-000020.tmp-123");
        Directory.CreateDirectory(tmp);
        File.WriteAllBytes(Path.Combine(tmp, Checkpoint.PolicyFile), [1, 2, 3]);

        Assert.That(Checkpoint.Resolve(_run.Root), Is.EqualTo(Path.Combine(_run.CheckpointsDir, "epoch-000010")));
        Assert.That(() => Checkpoint.ReadManifest(tmp), Throws.TypeOf<CheckpointException>().With.Message.Contain("incomplete"));

        using (var resumed = TrainingRun.Resume(_run, 20, NullLogger.Instance))
        {
            Assert.That(resumed.State.Epoch, Is.EqualTo(10));
            resumed.Train();
        }
        Assert.That(_run.LatestCheckpoint(), Is.EqualTo(Path.Combine(_run.CheckpointsDir, "epoch-000020")));
        Assert.That(Checkpoint.ReadManifest(_run.LatestCheckpoint()!).Epoch, Is.EqualTo(20));
        Assert.That(Directory.Exists(tmp), Is.False, "resume removes what the killed process left half-written");
    }

    [Test]
    public void A_Checkpoint_Moved_Aside_To_Be_Replaced_Is_Restored_On_Resume()
    {
        TrainNew(Tiny(10), _run);
        // Killed while re-saving epoch 10: the old copy was moved aside and the new one never renamed into place.
        var latest = _run.LatestCheckpoint()!;
        Directory.Move(latest, Path.Combine(_run.CheckpointsDir, ".epoch-000010.old-4242"));
        Directory.CreateDirectory(Path.Combine(_run.CheckpointsDir, ".epoch-000010.tmp-4242"));

        using (var resumed = TrainingRun.Resume(_run, 12, NullLogger.Instance))
            Assert.That(resumed.State.Epoch, Is.EqualTo(10));
        Assert.That(Directory.GetDirectories(_run.CheckpointsDir).Select(Path.GetFileName), Is.EqualTo(new[] { "epoch-000010" }));
    }

    [Test]
    public void A_Torn_Last_Metrics_Line_Is_Dropped_And_A_Torn_Line_Before_It_Is_An_Error()
    {
        TrainNew(Tiny(10), _run);
        // kill -9 in the middle of writing epoch 11's line.
        File.AppendAllText(_run.MetricsPath, "{\"epoch\":11,\"reward/mean\":0.5,\"rew");
        using (var resumed = TrainingRun.Resume(_run, 10, NullLogger.Instance))
            Assert.That(File.ReadAllLines(_run.MetricsPath), Has.Length.EqualTo(10));

        var lines = File.ReadAllLines(_run.MetricsPath).ToList();
        lines.Insert(3, "{\"epoch\":4,\"rew");
        File.WriteAllLines(_run.MetricsPath, lines);
        Assert.That(() => TrainingRun.Resume(_run, 10, NullLogger.Instance).Dispose(),
            Throws.TypeOf<RunDirectoryException>().With.Message.Contains("line 4"));
    }

    [Test]
    public void Latest_Points_At_A_Complete_Checkpoint_After_Every_Save()
    {
        var config = Tiny(12);
        using var trainer = new GrpoTrainer(TrainingState.Create(config));
        for (int i = 0; i < 3; i++)
        {
            Run(trainer, 4);
            var saved = Checkpoint.Save(trainer.State, _run);

            Assert.That(_run.LatestCheckpoint(), Is.EqualTo(saved));
            Assert.That(Checkpoint.ReadManifest(saved).Epoch, Is.EqualTo(trainer.State.Epoch));
            Assert.That(Directory.GetDirectories(_run.CheckpointsDir).Select(Path.GetFileName), Has.None.StartsWith("."),
                "a successful save leaves no temporary folder");
            Assert.That(Directory.GetFiles(_run.CheckpointsDir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "latest" }),
                "a successful save leaves no temporary pointer file");
        }
    }

    [Test]
    public void StartNew_Refuses_A_Directory_That_Holds_A_Run_And_Changes_Nothing()
    {
        TrainNew(Tiny(10), _run);
        var before = FileContents(_run.Root);

        Assert.That(() => TrainingRun.StartNew(Tiny(10) with { Seed = 7 }, _run, NullLogger.Instance).Dispose(),
            Throws.TypeOf<RunDirectoryException>().With.Message.Contain(_run.Root));

        AssertSameFiles(before, FileContents(_run.Root));
    }

    [Test]
    public void StartNew_Refuses_A_Directory_With_Only_Checkpoints()
    {
        Directory.CreateDirectory(_run.CheckpointsDir);

        Assert.That(() => TrainingRun.StartNew(Tiny(10), _run, NullLogger.Instance).Dispose(), Throws.TypeOf<RunDirectoryException>());
        Assert.That(File.Exists(_run.ConfigPath), Is.False);
    }

    [Test]
    public void Resume_Refuses_Fewer_Epochs_Than_The_Checkpoint_Holds_And_A_Run_Without_Checkpoints()
    {
        TrainNew(Tiny(20), _run);
        var before = FileContents(_run.Root);

        Assert.That(() => TrainingRun.Resume(_run, 10, NullLogger.Instance).Dispose(), Throws.TypeOf<RunDirectoryException>());
        AssertSameFiles(before, FileContents(_run.Root));

        var empty = new RunDirectory(Path.Combine(_dir, "empty"));
        Assert.That(() => TrainingRun.Resume(empty, 10, NullLogger.Instance).Dispose(), Throws.TypeOf<RunDirectoryException>());
    }

    string SaveSmallCheckpoint()
    {
        using var trainer = new GrpoTrainer(TrainingState.Create(WithReference(Tiny(10))));
        Run(trainer, 3);
        return Checkpoint.Save(trainer.State, _run);
    }
}
