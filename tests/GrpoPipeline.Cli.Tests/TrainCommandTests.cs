using NUnit.Framework;

namespace GrpoPipeline.Cli.Tests;

/// <summary>
/// <c>grpo train</c> as a user runs it: the built CLI in its own process, judged by exit code, output and files.
/// Exit codes: 0 done, 1 unexpected failure, 2 the user's mistake (bad config, bad option, unusable run directory).
/// </summary>
[TestFixture]
public sealed class TrainCommandTests
{
    const string TinyConfig = """
        {
          "runName": "cli-test",
          "seed": 0,
          "epochs": 5,
          "task": { "kind": "fixed", "prompts": [[1, 0, 2], [3, 2, 4], [1, 2, 3]], "heldOutSize": 16 },
          "grpo": { "groupSize": 10, "innerSteps": 10, "klCoef": 0.01, "refPeriod": 10, "learningRate": 0.01 },
          "run": { "logEvery": 10, "heldOutEvery": 10, "checkpointEvery": 10, "threads": 1 }
        }
        """;

    string _dir = null!;
    string _config = null!;
    string _runDir = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), $"grpo-cli-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_dir);
        _config = WriteConfig("tiny.json", TinyConfig);
        _runDir = Path.Combine(_dir, "run");
    }

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    string WriteConfig(string name, string json)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, json);
        return path;
    }

    static GrpoResult Grpo(params string[] args) => GrpoCli.Run(Path.GetTempPath(), args);

    string MetricsPath => Path.Combine(_runDir, "metrics.jsonl");

    int MetricsLines() => File.ReadAllLines(MetricsPath).Count(l => l.Length > 0);

    Dictionary<string, byte[]> RunFiles() =>
        Directory.GetFiles(_runDir, "*", SearchOption.AllDirectories).ToDictionary(f => Path.GetRelativePath(_runDir, f), File.ReadAllBytes);

    static void AssertSameFiles(Dictionary<string, byte[]> before, Dictionary<string, byte[]> after)
    {
        Assert.That(after.Keys.Order(), Is.EqualTo(before.Keys.Order()), "the set of files changed");
        foreach (var (path, bytes) in before)
            Assert.That(after[path].AsSpan().SequenceEqual(bytes), Is.True, $"{path} changed");
    }

    void TrainThirtyEpochs()
    {
        var result = Grpo("train", "--config", _config, "--run-dir", _runDir, "--epochs", "30");
        Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
    }

    [Test]
    public void Train_Writes_A_Run_And_Prints_Its_Directory()
    {
        var result = Grpo("train", "--config", _config, "--run-dir", _runDir, "--epochs", "30");

        Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
        Assert.That(result.Output, Does.Contain(Path.GetFullPath(_runDir)));
        Assert.That(File.Exists(Path.Combine(_runDir, "config.json")), Is.True);
        Assert.That(File.ReadAllText(Path.Combine(_runDir, "config.json")), Does.Contain("\"epochs\": 30"), "the effective config is saved");
        Assert.That(MetricsLines(), Is.EqualTo(30));
        var latest = Path.Combine(_runDir, "checkpoints", "latest");
        Assert.That(File.Exists(latest), Is.True);
        Assert.That(File.ReadAllText(latest).Trim(), Is.EqualTo("epoch-000030"));
        Assert.That(File.Exists(Path.Combine(_runDir, "checkpoints", "epoch-000030", "checkpoint.json")), Is.True);
    }

    [Test]
    public void Train_Refuses_An_Existing_Run_Without_Resume_And_Changes_Nothing()
    {
        TrainThirtyEpochs();
        var before = RunFiles();

        var result = Grpo("train", "--config", _config, "--run-dir", _runDir, "--epochs", "30");

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Output, Does.Contain("--resume"));
        AssertSameFiles(before, RunFiles());
    }

    [Test]
    public void Resume_Continues_To_The_New_Epoch_Count()
    {
        TrainThirtyEpochs();

        var result = Grpo("train", "--resume", "--run-dir", _runDir, "--epochs", "40");

        Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
        Assert.That(MetricsLines(), Is.EqualTo(40));
        Assert.That(File.ReadAllText(Path.Combine(_runDir, "checkpoints", "latest")).Trim(), Is.EqualTo("epoch-000040"));
    }

    [Test]
    public void Resume_With_The_Same_Config_Is_Accepted()
    {
        TrainThirtyEpochs();

        var result = Grpo("train", "--resume", "--config", _config, "--run-dir", _runDir, "--epochs", "35");

        Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
        Assert.That(MetricsLines(), Is.EqualTo(35));
    }

    [Test]
    public void Resume_With_Another_Seed_Is_Refused_And_Changes_Nothing()
    {
        TrainThirtyEpochs();
        var before = RunFiles();

        var result = Grpo("train", "--resume", "--run-dir", _runDir, "--epochs", "40", "--seed", "7");

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Output, Does.Contain("seed"));
        AssertSameFiles(before, RunFiles());
    }

    [Test]
    public void Resume_With_A_Different_Config_Is_Refused()
    {
        TrainThirtyEpochs();
        var other = WriteConfig("other.json", TinyConfig.Replace("\"learningRate\": 0.01", "\"learningRate\": 0.02"));
        var before = RunFiles();

        var result = Grpo("train", "--resume", "--config", other, "--run-dir", _runDir, "--epochs", "40");

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        AssertSameFiles(before, RunFiles());
    }

    [Test]
    public void Resume_To_Fewer_Epochs_Than_The_Checkpoint_Is_Refused()
    {
        TrainThirtyEpochs();

        var result = Grpo("train", "--resume", "--run-dir", _runDir, "--epochs", "20");

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(MetricsLines(), Is.EqualTo(30));
    }

    // A damaged latest checkpoint with an intact one before it is FaultTests' case: resume falls back to that one.
    [Test]
    public void Resume_With_Every_Checkpoint_Corrupt_Fails_Saying_So_And_Deletes_Nothing()
    {
        TrainThirtyEpochs();
        foreach (var checkpoint in Directory.GetDirectories(Path.Combine(_runDir, "checkpoints"), "epoch-*"))
        {
            var policy = Path.Combine(checkpoint, "policy.bin");
            var bytes = File.ReadAllBytes(policy);
            bytes[bytes.Length / 2] ^= 0x01;
            File.WriteAllBytes(policy, bytes);
        }
        var before = RunFiles().Values.Select(Convert.ToHexString).Order().ToList();

        var result = Grpo("train", "--resume", "--run-dir", _runDir, "--epochs", "40");

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.StdErr, Does.Contain("cannot resume: no checkpoint of").And.Contain("is intact"));
        Assert.That(RunFiles().Values.Select(Convert.ToHexString).Order(), Is.EqualTo(before), "every byte is kept (the checkpoints renamed .corrupt)");
        Assert.That(MetricsLines(), Is.EqualTo(30));
    }

    [Test]
    public void Resume_Without_A_Run_Is_Refused()
    {
        var result = Grpo("train", "--resume", "--run-dir", _runDir);

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(Directory.Exists(_runDir), Is.False);
    }

    [Test]
    public void A_Bad_Config_Value_Exits_2_Naming_The_Key()
    {
        var bad = WriteConfig("bad.json", TinyConfig.Replace("\"groupSize\": 10", "\"groupSize\": 1"));

        var result = Grpo("train", "--config", bad, "--run-dir", _runDir);

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Output, Does.Contain("grpo.groupSize"));
        Assert.That(Directory.Exists(_runDir), Is.False, "nothing is written for a bad config");
    }

    [Test]
    public void An_Unknown_Config_Key_Exits_2_Naming_The_Key()
    {
        var bad = WriteConfig("bad.json", TinyConfig.Replace("\"groupSize\": 10", "\"groupSise\": 10"));

        var result = Grpo("train", "--config", bad, "--run-dir", _runDir);

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Output, Does.Contain("groupSise"));
    }

    [Test]
    public void A_Bad_Epochs_Override_Exits_2_Naming_The_Key()
    {
        var result = Grpo("train", "--config", _config, "--run-dir", _runDir, "--epochs", "0");

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Output, Does.Contain("epochs"));
        Assert.That(Directory.Exists(_runDir), Is.False);
    }

    [Test]
    public void Train_Without_Config_Exits_2()
    {
        var result = Grpo("train", "--run-dir", _runDir);

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Output, Does.Contain("--config"));
    }

    [Test]
    public void A_Missing_Config_File_Exits_2()
    {
        var missing = Path.Combine(_dir, "missing.json");

        var result = Grpo("train", "--config", missing, "--run-dir", _runDir);

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Output, Does.Contain("missing.json"));
    }

    [TestCase("train", "--bogus")]
    [TestCase("train", "--config")]
    [TestCase("train", "--epochs", "many")]
    [TestCase("frobnicate")]
    public void A_Command_Line_Error_Exits_2(params string[] args)
    {
        var result = Grpo(args);

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.StdErr, Does.Contain("error"));
    }
}
