using System.Text.Json.Nodes;
using GrpoPipeline.Core;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GrpoPipeline.Training.Tests;

/// <summary>Tiny configs, temp folders and comparison helpers shared by the trainer, checkpoint and config tests.</summary>
static class TestConfigs
{
    /// <summary>The repository's root: the folder above the test output that holds GrpoPipeline.sln.</summary>
    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "GrpoPipeline.sln"))) return dir.FullName;
        throw new InvalidOperationException("GrpoPipeline.sln not found above the test directory");
    }

    /// <summary>Wall-clock metrics: they differ between otherwise identical runs.</summary>
    public static bool IsWallClock(string key) => key.StartsWith("perf/", StringComparison.Ordinal);

    /// <summary>
    /// The lecture's seed task (3 fixed prompts, G=10, μ=10, k3 KL) with a small held-out set and a cadence that
    /// suits short runs: held-out evaluation and checkpoints every 10 epochs, no console noise.
    /// </summary>
    public static TrainConfig Tiny(int epochs = 20) => new()
    {
        RunName = "test",
        Epochs = epochs,
        Task = new TaskOptions { HeldOutSize = 16 },
        Run = new RunOptions { LogEvery = 1000, HeldOutEvery = 10, CheckpointEvery = 10, Threads = 1 },
    };

    /// <summary>A random-prompt task: L=4, V=6, 16 prompts per batch.</summary>
    public static TrainConfig TinyRandom(int epochs = 10) => Tiny(epochs) with
    {
        Task = new TaskOptions { Kind = TaskKind.Random, PromptLength = 4, VocabSize = 6, BatchSize = 16, HeldOutSize = 32 },
    };

    /// <summary>A fresh, empty folder under the system temp folder.</summary>
    public static string NewTempDir(string prefix)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"grpo-{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static void DeleteDir(string? dir)
    {
        if (dir is not null && Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }

    /// <summary>A copy of every parameter and buffer of <paramref name="module"/>, by name.</summary>
    public static Dictionary<string, float[]> Snapshot(nn.Module<Tensor, Tensor> module) =>
        module.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.data<float>().ToArray());

    /// <summary>True when both snapshots hold the same names and bit-identical values.</summary>
    public static bool SameWeights(Dictionary<string, float[]> a, Dictionary<string, float[]> b) =>
        a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var other) && kv.Value.AsSpan().SequenceEqual(other));

    /// <summary>The metrics of one epoch without the wall-clock keys, in insertion order.</summary>
    public static List<KeyValuePair<string, double>> WithoutWallClock(EpochMetrics metrics) =>
        metrics.Values.Where(kv => !IsWallClock(kv.Key)).ToList();

    /// <summary>The lines of a metrics.jsonl with the wall-clock keys removed from each line.</summary>
    public static List<string> MetricsWithoutWallClock(string metricsPath) =>
        File.ReadAllLines(metricsPath).Where(l => l.Length > 0).Select(line =>
        {
            var node = JsonNode.Parse(line)!.AsObject();
            foreach (var key in node.Select(kv => kv.Key).Where(IsWallClock).ToList()) node.Remove(key);
            return node.ToJsonString();
        }).ToList();

    /// <summary>Every file under <paramref name="root"/> (relative path → bytes), to prove nothing was touched.</summary>
    public static Dictionary<string, byte[]> FileContents(string root) =>
        Directory.GetFiles(root, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(root, f), File.ReadAllBytes);

    public static void AssertSameFiles(Dictionary<string, byte[]> before, Dictionary<string, byte[]> after)
    {
        Assert.That(after.Keys.Order(), Is.EqualTo(before.Keys.Order()), "the set of files changed");
        foreach (var (path, bytes) in before)
            Assert.That(after[path].AsSpan().SequenceEqual(bytes), Is.True, $"{path} changed");
    }

    /// <summary>Runs <paramref name="epochs"/> epochs and returns their metrics.</summary>
    public static List<EpochMetrics> Run(GrpoTrainer trainer, int epochs) =>
        Enumerable.Range(0, epochs).Select(_ => trainer.RunEpoch()).ToList();
}
