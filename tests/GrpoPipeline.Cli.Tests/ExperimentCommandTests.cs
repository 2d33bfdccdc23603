using System.Text.RegularExpressions;
using NUnit.Framework;

namespace GrpoPipeline.Cli.Tests;

/// <summary>
/// <c>grpo experiment</c> as a user runs it: the report's files, an experiment started again that trains nothing it
/// has, <c>--parallel</c> shards that train every run once, and options it refuses.
/// </summary>
[TestFixture]
public sealed class ExperimentCommandTests
{
    const string TinyConfig = """
        {
          "runName": "cli-experiment",
          "seed": 0,
          "epochs": 4,
          "task": { "kind": "fixed", "prompts": [[1, 0, 2], [3, 2, 4], [1, 2, 3]], "heldOutSize": 16 },
          "grpo": { "groupSize": 10, "innerSteps": 10, "klCoef": 0.01, "refPeriod": 10, "learningRate": 0.01 },
          "run": { "logEvery": 10, "heldOutEvery": 2, "checkpointEvery": 10, "threads": 1 }
        }
        """;

    string _dir = null!;
    string _config = null!;
    string _out = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), $"grpo-cli-experiment-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_dir);
        _config = Path.Combine(_dir, "tiny.json");
        File.WriteAllText(_config, TinyConfig);
        _out = Path.Combine(_dir, "out");
    }

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    GrpoResult Deltas(params string[] more) =>
        GrpoCli.Run(_dir, ["experiment", "deltas", "--config", _config, "--epochs", "4", "--out", _out, .. more]);

    /// <summary>The runs a process (and the shards it started) trained, as "variant seed N", from their log lines.</summary>
    static string[] Trained(GrpoResult result) =>
        Regex.Matches(result.StdOut, @"(\S+) seed (\d+): final reward").Select(m => $"{m.Groups[1].Value} seed {m.Groups[2].Value}").ToArray();

    string[] RunFiles() => Directory.GetFiles(Path.Combine(_out, "runs"), "*.json");

    [Test]
    public void An_Experiment_Writes_Its_Report_And_Started_Again_Trains_Nothing()
    {
        var first = Deltas("--seeds", "2", "--variants", "centered", "max");

        Assert.That(first.ExitCode, Is.EqualTo(0), first.ToString());
        Assert.That(Trained(first), Is.EqualTo(new[] { "centered seed 0", "centered seed 1", "max seed 0", "max seed 1" }));
        Assert.That(RunFiles(), Has.Length.EqualTo(4));
        Assert.That(new[] { "deltas.md", "deltas.json", "deltas.png" }.Where(f => !File.Exists(Path.Combine(_out, f))), Is.Empty);
        var page = File.ReadAllText(Path.Combine(_out, "deltas.md"));
        Assert.That(page, Does.StartWith("# Train one config under each deltas mode")
            .And.Contain("produced by `grpo experiment deltas --config tiny.json --seeds 2 --epochs 4 --target 0.99 --threads 1 --variants centered max`")
            .And.Contain("| centered | 2 |").And.Contain("| max | 2 |"));
        Assert.That(first.StdOut, Does.Contain("| deltas | seeds |").And.Contain("| centered | 2 |"), "the table is printed");
        Assert.That(first.StdOut, Does.Contain("centered seed 1: epoch 4/4, held-out exact"), "a progress line at a run's last epoch");
        var json = File.ReadAllText(Path.Combine(_out, "deltas.json"));

        var again = Deltas("--seeds", "2", "--variants", "centered", "max");

        Assert.That(again.ExitCode, Is.EqualTo(0), again.ToString());
        Assert.That(Trained(again), Is.Empty, "every run is read from its file");
        Assert.That(File.ReadAllText(Path.Combine(_out, "deltas.md")), Is.EqualTo(page));
        Assert.That(File.ReadAllText(Path.Combine(_out, "deltas.json")), Is.EqualTo(json));
    }

    [Test]
    public void Parallel_Shards_Train_Every_Run_Once_And_The_Page_Says_The_Machine_Was_Shared()
    {
        var result = Deltas("--seeds", "3", "--variants", "centered", "--parallel", "2");

        Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
        Assert.That(Trained(result).Order(), Is.EqualTo(new[] { "centered seed 0", "centered seed 1", "centered seed 2" }), "each run trained by exactly one process");
        Assert.That(RunFiles(), Has.Length.EqualTo(3));
        Assert.That(File.ReadAllText(Path.Combine(_out, "deltas.md")), Does.Contain("--parallel 2 --variants centered`")
            .And.Contain("with 2 runs sharing it at a time.").And.Contain("| centered | 3 |"));
    }

    [Test]
    public void An_Unknown_Variant_Or_Shard_Is_The_Users_Mistake()
    {
        var variant = Deltas("--variants", "centred");
        Assert.That(variant.ExitCode, Is.EqualTo(2), variant.ToString());
        Assert.That(variant.StdErr, Does.Contain("--variants").And.Contain("centred").And.Contain("'centered'"));

        var shard = Deltas("--shard", "2/2");
        Assert.That(shard.ExitCode, Is.EqualTo(2), shard.ToString());
        Assert.That(shard.StdErr, Does.Contain("--shard").And.Contain("2/2"));
        Assert.That(Directory.Exists(Path.Combine(_out, "runs")), Is.False, "nothing was trained");
    }
}
