using NUnit.Framework;

namespace GrpoPipeline.Cli.Tests;

/// <summary>
/// Training while another thread collects and finalizes continuously (the <c>GcStressHook</c> startup hook), as any
/// host app's threads do, only far more often. TorchSharp passes a temporary Scalar's handle to libtorch without keeping
/// the managed object alive, so before every Scalar was owned these runs died within seconds with libtorch reading a
/// freed Scalar ("Expected false to be true … toDouble", "argument alpha must not be a floating point number").
/// </summary>
[TestFixture]
public sealed class GcStressTests
{
    string _dir = null!;

    [SetUp]
    public void SetUp() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), $"grpo-gcstress-{Guid.NewGuid():N}"));

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    // The decoder samples token by token (the KV-cache loop) and the transformer in one pass; both configs run dynamic
    // sampling and the entropy controller, so every path of the trainer meets the collector.
    [TestCase("sort-variable.json", 60)]
    [TestCase("transformer-l8v32.json", 150)]
    public void Training_Survives_A_Thread_That_Collects_Continuously(string config, int epochs)
    {
        var hook = Path.Combine(TestContext.CurrentContext.TestDirectory, "GcStressHook.dll");
        Assert.That(File.Exists(hook), Is.True, $"{hook} is missing: the GcStressHook project reference should copy it");
        var configPath = Path.Combine(RepoRoot(), "models", "configs", config);
        var runDir = Path.Combine(_dir, "run");
        var started = DateTime.UtcNow;

        using var run = GrpoCli.Start(_dir, new Dictionary<string, string> { ["DOTNET_STARTUP_HOOKS"] = hook },
            "train", "--config", configPath, "--run-dir", runDir, "--epochs", epochs.ToString());
        var result = run.WaitForExit();
        TestContext.Out.WriteLine($"{config}: {epochs} epochs under GC stress in {(DateTime.UtcNow - started).TotalSeconds:F0} s");

        Assert.That(result.StdErr, Does.Contain("gc-stress:"), "the startup hook did not run: the test would prove nothing");
        Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
        Assert.That(File.ReadAllLines(Path.Combine(runDir, "metrics.jsonl")).Count(l => l.Length > 0), Is.EqualTo(epochs));
    }

    static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "GrpoPipeline.sln"))) return dir.FullName;
        throw new InvalidOperationException("GrpoPipeline.sln not found above the test directory");
    }
}
