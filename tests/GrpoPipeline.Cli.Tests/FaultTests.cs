using System.Diagnostics;
using System.Text.Json;
using NUnit.Framework;

namespace GrpoPipeline.Cli.Tests;

/// <summary>
/// Faults injected for real into <c>grpo train</c> and <c>grpo export</c> — a full disk, a read-only file system, a
/// damaged checkpoint, kill -9 in the middle of a checkpoint — and, after each, a resumed run that loses nothing: its
/// metrics equal an uninterrupted run's, line by line (wall-clock keys aside). The file-system cases mount a small
/// tmpfs, which needs root; elsewhere they are skipped with that reason.
/// </summary>
[TestFixture, NonParallelizable]
public sealed class FaultTests
{
    const string Config = """
        {
          "runName": "faults",
          "seed": 4,
          "epochs": 40,
          "task": { "kind": "random", "promptLength": 4, "vocabSize": 6, "batchSize": 16, "heldOutSize": 32 },
          "grpo": { "groupSize": 8, "innerSteps": 2, "klCoef": 0.01, "refPeriod": 10, "learningRate": 0.01 },
          "run": { "logEvery": 10, "heldOutEvery": 10, "checkpointEvery": 10, "keepCheckpoints": 0, "threads": 1 }
        }
        """;

    string _dir = null!, _config = null!;
    readonly List<string> _mounts = [];

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), $"grpo-faults-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_dir);
        _config = Path.Combine(_dir, "faults.json");
        File.WriteAllText(_config, Config);
    }

    [TearDown]
    public void TearDown()
    {
        foreach (var mount in _mounts) Sh("umount", "-l", mount);
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    GrpoResult Grpo(params string[] args) => GrpoCli.Run(_dir, args);

    /// <summary>The metrics of an uninterrupted 40-epoch run of the config, wall-clock keys aside.</summary>
    string[] Uninterrupted(int epochs = 40)
    {
        var dir = Path.Combine(_dir, $"uninterrupted-{epochs}");
        var result = Grpo("train", "--config", _config, "--run-dir", dir, "--epochs", epochs.ToString());
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        return Metrics(dir);
    }

    static string[] Metrics(string runDir) =>
        File.ReadAllLines(Path.Combine(runDir, "metrics.jsonl")).Where(l => l.Length > 0).Select(line =>
        {
            using var doc = JsonDocument.Parse(line);
            return string.Join(",", doc.RootElement.EnumerateObject().Where(p => !p.Name.StartsWith("perf/", StringComparison.Ordinal)).Select(p => $"{p.Name}={p.Value}"));
        }).ToArray();

    static string[] Checkpoints(string runDir) =>
        Directory.GetDirectories(Path.Combine(runDir, "checkpoints")).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    static long SizeOf(string dir) => Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);

    /// <summary>Mounts a tmpfs of <paramref name="kilobytes"/> KiB, or skips the test with the reason.</summary>
    string Mount(long kilobytes)
    {
        var dir = Path.Combine(_dir, $"tmpfs-{_mounts.Count}");
        Directory.CreateDirectory(dir);
        var (code, output) = Sh("mount", "-t", "tmpfs", "-o", $"size={kilobytes}k", "tmpfs", dir);
        if (code != 0) Assert.Ignore($"this test mounts a small tmpfs to fill it, which needs root (mount said: {output.Trim()})");
        _mounts.Insert(0, dir);
        return dir;
    }

    static (int Code, string Output) Sh(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output);
    }

    static void AssertOneErrorLine(GrpoResult result, string contains)
    {
        var errors = result.StdErr.Split('\n').Where(l => l.Length > 0).ToList();
        Assert.That(errors, Has.Count.EqualTo(1), $"one line on stderr, no stack trace:\n{result}");
        Assert.That(errors[0], Does.Contain(contains));
    }

    [Test]
    public void A_Full_Disk_Stops_Training_With_One_Line_And_Exit_3_Leaves_No_Partial_Checkpoint_And_Resume_Loses_Nothing()
    {
        var expected = Uninterrupted();
        long checkpoint = SizeOf(Path.Combine(_dir, "uninterrupted-40", "checkpoints", "epoch-000010"));
        // Room for the run's small files and two checkpoints, not three: the one at epoch 30 fills the disk.
        var disk = Mount((long)Math.Ceiling((2.5 * checkpoint + 96 * 1024) / 4096) * 4);
        var runDir = Path.Combine(disk, "run");

        var full = Grpo("train", "--config", _config, "--run-dir", runDir);
        Assert.That(full.ExitCode, Is.EqualTo(3), full.ToString());
        AssertOneErrorLine(full, "could not write checkpoint epoch-0000");
        Assert.That(full.StdErr, Does.Contain("No space left on device").And.Contain(Path.Combine(runDir, "checkpoints")));
        Assert.That(Directory.GetDirectories(Path.Combine(runDir, "checkpoints"), ".*"), Is.Empty, "the partial checkpoint is removed at once");

        Assert.That(Sh("mount", "-o", "remount,size=64m", disk).Code, Is.Zero);   // space is freed
        var resumed = Grpo("train", "--resume", "--run-dir", runDir);
        Assert.That(resumed.ExitCode, Is.Zero, resumed.ToString());
        Assert.That(Metrics(runDir), Is.EqualTo(expected));
    }

    [Test]
    public void A_Full_Disk_During_An_Export_Exits_3_With_One_Line_And_Leaves_No_Partial_File()
    {
        Uninterrupted(10);
        var disk = Mount(1024);
        Sh("dd", "if=/dev/zero", $"of={Path.Combine(disk, "filler")}", "bs=64k");   // until the disk is full
        var model = Path.Combine(disk, "model.onnx");

        var full = Grpo("export", "--checkpoint", Path.Combine(_dir, "uninterrupted-10"), "--output", model);
        Assert.That(full.ExitCode, Is.EqualTo(3), full.ToString());
        AssertOneErrorLine(full, $"could not write the exported model to '{model}'");
        Assert.That(Directory.GetFiles(disk), Is.EquivalentTo(new[] { Path.Combine(disk, "filler") }), "no partial model");

        File.Delete(Path.Combine(disk, "filler"));
        Assert.That(Grpo("export", "--checkpoint", Path.Combine(_dir, "uninterrupted-10"), "--output", model).ExitCode, Is.Zero);
        Assert.That(File.Exists(model), Is.True);
    }

    [Test]
    public void A_Read_Only_Run_Directory_Fails_Before_The_First_Epoch()
    {
        var disk = Mount(4096);
        var runDir = Path.Combine(disk, "run");
        Assert.That(Grpo("train", "--config", _config, "--run-dir", runDir, "--epochs", "10").ExitCode, Is.Zero);
        Assert.That(Sh("mount", "-o", "remount,ro", disk).Code, Is.Zero);

        var resumed = Grpo("train", "--resume", "--run-dir", runDir, "--epochs", "20");
        Assert.That(resumed.ExitCode, Is.EqualTo(3), resumed.ToString());
        AssertOneErrorLine(resumed, $"run directory '{runDir}' is not writable");
        Assert.That(resumed.StdOut, Does.Not.Contain("epoch "), "no epoch was trained");

        var fresh = Grpo("train", "--config", _config, "--run-dir", Path.Combine(disk, "other"));
        Assert.That(fresh.ExitCode, Is.EqualTo(3), fresh.ToString());
        Assert.That(fresh.StdErr, Does.Contain("is not writable"));
    }

    [TestCase(true, TestName = "A_Bit_Flipped_Checkpoint_Is_Refused_By_Its_Hash_Kept_Aside_And_Resume_Falls_Back_To_The_One_Before")]
    [TestCase(false, TestName = "A_Truncated_Checkpoint_Is_Refused_By_Its_Hash_Kept_Aside_And_Resume_Falls_Back_To_The_One_Before")]
    public void A_Damaged_Checkpoint_Is_Refused_And_Resume_Falls_Back(bool flip)
    {
        var expected = Uninterrupted();
        var runDir = Path.Combine(_dir, "damaged");
        Assert.That(Grpo("train", "--config", _config, "--run-dir", runDir, "--epochs", "30").ExitCode, Is.Zero);
        var policy = Path.Combine(runDir, "checkpoints", "epoch-000030", "policy.bin");
        var bytes = File.ReadAllBytes(policy);
        if (flip) bytes[bytes.Length / 2] ^= 0x10;
        else bytes = bytes[..(bytes.Length / 2)];
        File.WriteAllBytes(policy, bytes);

        var resumed = Grpo("train", "--resume", "--run-dir", runDir, "--epochs", "40");
        Assert.That(resumed.ExitCode, Is.Zero, resumed.ToString());
        Assert.That(resumed.Output, Does.Contain("epoch-000030' is corrupt: policy.bin has SHA-256").And.Contain("moved it to epoch-000030.corrupt"));
        Assert.That(resumed.Output, Does.Contain("from " + Path.Combine(runDir, "checkpoints", "epoch-000020")));
        Assert.That(File.ReadAllBytes(Path.Combine(runDir, "checkpoints", "epoch-000030.corrupt", "policy.bin")), Is.EqualTo(bytes),
            "the damaged checkpoint is kept as it was, not overwritten");
        Assert.That(Metrics(runDir), Is.EqualTo(expected));
    }

    [Test]
    public void Retention_Keeps_The_Newest_Checkpoints_And_The_Best_Held_Out_One_And_Resume_And_Export_Still_Work()
    {
        var runDir = Path.Combine(_dir, "kept");
        Assert.That(Grpo("train", "--config", _config, "--run-dir", runDir).ExitCode, Is.Zero);
        var all = Checkpoints(runDir);
        Assert.That(all, Is.EqualTo(new[] { "epoch-000010", "epoch-000020", "epoch-000030", "epoch-000040" }), "keepCheckpoints 0 keeps all");

        var limited = Path.Combine(_dir, "limited.json");
        File.WriteAllText(limited, Config.Replace("\"keepCheckpoints\": 0", "\"keepCheckpoints\": 1"));
        var keptDir = Path.Combine(_dir, "limited");
        Assert.That(Grpo("train", "--config", limited, "--run-dir", keptDir).ExitCode, Is.Zero);
        // The best held-out exact match (the newest of equals) among the checkpoints' epochs, from the metrics.
        var heldOut = File.ReadAllLines(Path.Combine(keptDir, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement)
            .Where(e => e.TryGetProperty("heldout/exact", out _))
            .Select(e => (Epoch: e.GetProperty("epoch").GetInt32(), Exact: e.GetProperty("heldout/exact").GetDouble())).ToList();
        var best = heldOut.OrderByDescending(h => h.Exact).ThenByDescending(h => h.Epoch).First().Epoch;
        var expected = new[] { $"epoch-{best:D6}", "epoch-000040" }.Distinct().Order(StringComparer.Ordinal);
        Assert.That(Checkpoints(keptDir), Is.EqualTo(expected));

        Assert.That(Grpo("train", "--resume", "--run-dir", keptDir, "--epochs", "50").ExitCode, Is.Zero);
        Assert.That(Checkpoints(keptDir), Does.Contain("epoch-000050"));
        Assert.That(Grpo("export", "--checkpoint", keptDir, "--output", Path.Combine(_dir, "kept.onnx")).ExitCode, Is.Zero);
    }

    [Test]
    public void Kill_9_While_A_Checkpoint_Is_Written_Loses_Nothing()
    {
        var expected = Uninterrupted();
        // The kill lands the moment a checkpoint's temporary folder appears (inotify), so the process dies mid-write.
        // Scheduling may let the write finish first; a few tries make sure one kill lands inside it.
        for (int attempt = 1; ; attempt++)
        {
            var runDir = Path.Combine(_dir, $"killed-{attempt}");
            var checkpoints = Path.Combine(runDir, "checkpoints");
            Directory.CreateDirectory(runDir);   // empty: still a new run
            using var watcher = new FileSystemWatcher(runDir) { IncludeSubdirectories = true };
            using var run = GrpoCli.Start(_dir, "train", "--config", _config, "--run-dir", runDir);
            int seen = 0;
            watcher.Created += (_, e) =>
            {
                // The second checkpoint (epoch 20): the first one is already there to resume from.
                if (Path.GetFileName(e.FullPath).StartsWith(".epoch-", StringComparison.Ordinal) && Interlocked.Increment(ref seen) == 2)
                    run.KillHard();
            };
            watcher.EnableRaisingEvents = true;
            run.WaitForExit();
            bool midWrite = Directory.GetDirectories(checkpoints, ".epoch-*").Length > 0;
            if (!midWrite && attempt < 5) continue;
            Assert.That(midWrite, Is.True, "in 5 tries no kill landed while a checkpoint was being written");

            var resumed = Grpo("train", "--resume", "--run-dir", runDir);
            Assert.That(resumed.ExitCode, Is.Zero, resumed.ToString());
            Assert.That(Metrics(runDir), Is.EqualTo(expected));
            Assert.That(Directory.GetDirectories(checkpoints, ".*"), Is.Empty, "resume cleans up the half-written checkpoint");
            return;
        }
    }

    [Test]
    public void Kill_9_While_A_Model_Is_Exported_Leaves_The_Previous_Model_Intact_And_The_Next_Export_Cleans_Up()
    {
        Uninterrupted(10);
        var source = Path.Combine(_dir, "uninterrupted-10");
        var outDir = Path.Combine(_dir, "export");
        var model = Path.Combine(outDir, "model.onnx");
        Assert.That(Grpo("export", "--checkpoint", source, "--output", model).ExitCode, Is.Zero);
        var previous = File.ReadAllBytes(model);

        // Killed the moment its temporary file appears: the model is being written beside the old one.
        for (int attempt = 1; ; attempt++)
        {
            using var watcher = new FileSystemWatcher(outDir, "model.onnx.tmp-*");
            using var export = GrpoCli.Start(_dir, "export", "--checkpoint", source, "--output", model);
            watcher.Created += (_, _) => export.KillHard();
            watcher.EnableRaisingEvents = true;
            var killed = export.WaitForExit();
            bool midWrite = killed.ExitCode == 137 && Directory.GetFiles(outDir, "model.onnx.tmp-*").Length > 0;
            if (!midWrite && attempt < 5) continue;
            Assert.That(midWrite, Is.True, $"in 5 tries no kill landed while the model was being written:\n{killed}");
            break;
        }
        Assert.That(File.ReadAllBytes(model), Is.EqualTo(previous), "the previous model is untouched");

        Assert.That(Grpo("export", "--checkpoint", source, "--output", model).ExitCode, Is.Zero);
        Assert.That(Directory.GetFiles(outDir).Select(Path.GetFileName), Is.EqualTo(new[] { "model.onnx" }), "the next export removes the killed one's file");
        Assert.That(File.ReadAllBytes(model), Is.EqualTo(previous), "the same checkpoint exports the same bytes");
    }

    [Test]
    public void Kill_9_While_TensorBoard_Flushes_Loses_No_Epoch_Of_The_Event_Files()
    {
        var expected = Uninterrupted();
        var runDir = Path.Combine(_dir, "board");
        Directory.CreateDirectory(runDir);
        using (var watcher = new FileSystemWatcher(runDir, "events.out.tfevents.*") { NotifyFilter = NotifyFilters.Size | NotifyFilters.LastWrite })
        using (var run = GrpoCli.Start(_dir, "train", "--config", _config, "--run-dir", runDir))
        {
            // TensorBoard flushes every logEvery (10) epochs, just before a checkpoint is saved: the first flush after the
            // first checkpoint (epoch 20's) is killed as it starts writing, so the run resumes from epoch 10.
            var latest = Path.Combine(runDir, "checkpoints", "latest");
            watcher.Changed += (_, _) => { if (File.Exists(latest)) run.KillHard(); };
            watcher.EnableRaisingEvents = true;
            Assert.That(run.WaitForExit().ExitCode, Is.EqualTo(137), "killed");
        }
        var resumed = Grpo("train", "--resume", "--run-dir", runDir);
        Assert.That(resumed.ExitCode, Is.Zero, resumed.ToString());
        Assert.That(Metrics(runDir), Is.EqualTo(expected));

        var files = Directory.GetFiles(runDir, "events.out.tfevents.*");
        Assert.That(files, Has.Length.EqualTo(2), "one event file per training session");
        var steps = new SortedSet<long>();
        foreach (var file in files)
        {
            var (events, torn) = GrpoPipeline.Tests.EventFileReader.ReadUntilTear(file);
            TestContext.Out.WriteLine($"{Path.GetFileName(file)}: {events.Count} events, {(torn ? "ends in a torn record" : "complete")}");
            foreach (var e in events.Where(e => e.Scalars.Count > 0)) steps.Add(e.Step);
        }
        Assert.That(steps, Is.EqualTo(Enumerable.Range(1, 40).Select(i => (long)i)), "every epoch is in an event file");
    }

    [Test]
    public void A_Supervised_Run_Whose_Trainer_Is_Killed_With_Sigkill_Is_Restarted_And_Loses_Nothing()
    {
        var expected = Uninterrupted();
        var runDir = Path.Combine(_dir, "supervised");
        var metrics = Path.Combine(runDir, "metrics.jsonl");
        using var run = GrpoCli.Start(_dir, "train", "--supervise", "--config", _config, "--run-dir", runDir);
        var random = new Random(TestContext.CurrentContext.Random.Next());
        int starts = 1;
        int Starts() => run.Output.Split("Supervising trainer pid").Length - 1;
        // Two kills at random epochs: one after the first checkpoint, one after the second or third.
        foreach (var afterEpoch in new[] { 12 + random.Next(6), 25 + random.Next(10) })
        {
            run.WaitUntil(() => Starts() == starts && File.Exists(metrics) && File.ReadAllLines(metrics).Length >= afterEpoch, $"epoch {afterEpoch}");
            int pid = run.LastMatch(@"Supervising trainer pid (\d+)");
            Assert.That(GrpoRun.Kill(pid, 9), Is.Zero, $"kill -9 {pid}");
            starts++;
            run.WaitUntil(() => Starts() == starts, "the restart");
        }
        var result = run.WaitForExit();
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Output, Does.Contain("was killed by signal 9 (SIGKILL); restart 1 of at most 5").And.Contain("restart 2 of at most 5"));
        var events = File.ReadAllLines(Path.Combine(runDir, "events.jsonl"));
        Assert.That(events, Has.Length.EqualTo(2));
        Assert.That(events, Has.All.Contain("\"event\":\"restart\"").And.All.Contain("\"exitCode\":137"));
        Assert.That(Metrics(runDir), Is.EqualTo(expected));
    }

    [Test]
    public void SIGTERM_To_A_Supervised_Run_Stops_It_Cleanly_With_Exit_130_And_No_Restart()
    {
        var runDir = Path.Combine(_dir, "stopped");
        var metrics = Path.Combine(runDir, "metrics.jsonl");
        using var run = GrpoCli.Start(_dir, "train", "--supervise", "--config", _config, "--run-dir", runDir, "--epochs", "100000");
        run.WaitUntil(() => File.Exists(metrics) && File.ReadAllLines(metrics).Length >= 5, "epoch 5");
        run.Signal(15);
        var result = run.WaitForExit();
        Assert.That(result.ExitCode, Is.EqualTo(130), result.ToString());
        Assert.That(result.Output, Does.Contain("stopping cleanly").And.Contain("not restarted").And.Not.Contain("restart 1"));
        Assert.That(File.Exists(Path.Combine(runDir, "events.jsonl")), Is.False, "nothing was restarted");
        Assert.That(Grpo("train", "--resume", "--run-dir", runDir, "--epochs", "20").ExitCode, Is.Zero, "the stop saved a checkpoint");
    }
}
