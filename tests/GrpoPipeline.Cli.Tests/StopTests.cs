using System.Text.Json;
using NUnit.Framework;

namespace GrpoPipeline.Cli.Tests;

/// <summary>
/// Stopping <c>grpo train</c> the way users and schedulers do: Ctrl+C (SIGINT) or SIGTERM saves a checkpoint at the
/// last completed epoch and exits 130, and <c>--resume</c> finishes the run from there.
/// </summary>
[TestFixture]
public sealed class StopTests
{
    const string LongConfig = """
        {
          "runName": "cli-stop",
          "epochs": 100000,
          "task": { "kind": "fixed", "heldOutSize": 16 },
          "run": { "logEvery": 1000, "heldOutEvery": 0, "checkpointEvery": 0, "threads": 1 }
        }
        """;

    string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), $"grpo-cli-stop-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    static int[] Epochs(string metrics) =>
        File.ReadAllLines(metrics).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("epoch").GetInt32()).ToArray();

    [TestCase(2, TestName = "Ctrl_C_Saves_A_Checkpoint_At_The_Last_Epoch_Exits_130_And_Resume_Finishes")]
    [TestCase(15, TestName = "SIGTERM_Saves_A_Checkpoint_At_The_Last_Epoch_Exits_130_And_Resume_Finishes")]
    public void A_Stop_Signal_Saves_A_Checkpoint_And_Resume_Finishes(int signal)
    {
        var config = Path.Combine(_dir, "long.json");
        File.WriteAllText(config, LongConfig);
        var runDir = Path.Combine(_dir, "run");
        var metrics = Path.Combine(runDir, "metrics.jsonl");

        GrpoResult stopped;
        using (var run = GrpoCli.Start(_dir, "train", "--config", config, "--run-dir", runDir))
        {
            run.WaitUntil(() => File.Exists(metrics) && File.ReadAllLines(metrics).Length >= 50, "50 epochs");
            run.Signal(signal);
            stopped = run.WaitForExit();
        }

        Assert.That(stopped.ExitCode, Is.EqualTo(130), stopped.ToString());
        int last = Epochs(metrics).Max();
        Assert.That(last, Is.InRange(50, 99_999), "stopped early, at an epoch boundary");
        Assert.That(Epochs(metrics), Is.EqualTo(Enumerable.Range(1, last)), "one metrics line per completed epoch");
        Assert.That(stopped.StdErr, Does.Contain($"Stopped at epoch {last}; saved"));
        Assert.That(File.ReadAllText(Path.Combine(runDir, "checkpoints", "latest")).Trim(), Is.EqualTo($"epoch-{last:D6}"));

        var resumed = GrpoCli.Run(_dir, "train", "--resume", "--run-dir", runDir, "--epochs", (last + 20).ToString());
        Assert.That(resumed.ExitCode, Is.Zero, resumed.ToString());
        Assert.That(Epochs(metrics), Is.EqualTo(Enumerable.Range(1, last + 20)));
    }
}
