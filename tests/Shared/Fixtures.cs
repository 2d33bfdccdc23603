using NUnit.Framework;

namespace GrpoPipeline.Tests;

/// <summary>
/// The committed ONNX models under <c>tests/fixtures</c> (written by <c>grpo fixtures</c>, held byte-identical to a
/// fresh export by a Training test), copied next to the test assembly. Test suites that use them need no TorchSharp.
/// </summary>
static class Fixtures
{
    /// <summary>The lecture's three prompts, L=3 V=5, trained 300 epochs (run <c>fixture-lecture</c>).</summary>
    public static string Lecture => Path("seed-l3v5.onnx");
    /// <summary>The lecture task with other weights, untrained (run <c>fixture-lecture-b</c>).</summary>
    public static string LectureUntrained => Path("seed-l3v5-untrained.onnx");
    /// <summary>Random prompts, L=6 V=12, D=16, trained 300 epochs (run <c>fixture-random</c>).</summary>
    public static string Random => Path("seed-l6v12.onnx");
    /// <summary>Random prompts, L=4 V=6, held-out size 64, trained 150 epochs (run <c>fixture-small</c>).</summary>
    public static string Small => Path("seed-l4v6.onnx");
    /// <summary><see cref="Small"/> exported before its first epoch.</summary>
    public static string SmallUntrained => Path("seed-l4v6-untrained.onnx");
    /// <summary>A 60-epoch run on L=4 V=6 (run <c>e2e</c>, held-out size 100, seed 4), exported at its end.</summary>
    public static string Run => Path("e2e.onnx");
    /// <summary>That run's metrics.jsonl, without the wall-clock keys.</summary>
    public static string RunMetrics => Path("e2e-metrics.jsonl");
    /// <summary>A decoder (decoder/1) on lengths 1..6, V=8, trained 300 epochs (run <c>fixture-decoder</c>): about half its held-out prompts exact.</summary>
    public static string Decoder => Path("decoder-l1to6v8.onnx");

    /// <summary>An untrained decoder of the <c>add</c> task, 1..2-digit operands (run <c>fixture-add</c>).</summary>
    public static string Add => Path("add-d1to2-untrained.onnx");
    /// <summary>An untrained decoder of a task no test registers, <c>fixture-unregistered</c> (lengths 1..4, V=6): rewards unavailable.</summary>
    public static string Unregistered => Path("unregistered-l1to4v6-untrained.onnx");
    /// <summary><see cref="Lecture"/> as exported before 0.3: contract <c>sorter/1</c>, task options under <c>grpo.heldout_split</c>.</summary>
    public static string LegacySorter => Path("legacy/seed-l3v5-sorter1.onnx");
    /// <summary><see cref="Decoder"/> as exported before 0.3: task options under <c>grpo.heldout_split</c>, no task name in them.</summary>
    public static string LegacyDecoder => Path("legacy/decoder-l1to6v8-heldout-split.onnx");

    public const string LectureRun = "fixture-lecture", LectureUntrainedRun = "fixture-lecture-b", RandomRun = "fixture-random", SmallRun = "fixture-small",
        DecoderRun = "fixture-decoder";

    /// <summary>A fixture next to the test assembly; fails the test clearly when it was not copied.</summary>
    public static string Path(string name)
    {
        var path = System.IO.Path.Combine(TestContext.CurrentContext.TestDirectory, "fixtures", name);
        if (!File.Exists(path)) Assert.Fail($"fixture {path} is missing: tests/fixtures/{name} should be copied to the test output (regenerate with 'grpo fixtures --out tests/fixtures')");
        return path;
    }

    /// <summary><paramref name="count"/> uniform prompts of length <paramref name="length"/> over 0..vocab-1.</summary>
    public static long[][] RandomPrompts(int count, int length, int vocab, ulong seed)
    {
        var rng = new Core.Rng(seed);
        var prompts = new long[count][];
        for (int b = 0; b < count; b++)
        {
            prompts[b] = new long[length];
            for (int i = 0; i < length; i++) prompts[b][i] = rng.NextInt(vocab);
        }
        return prompts;
    }
}

/// <summary>A folder under the system temp folder, deleted on dispose.</summary>
sealed class TempDir : IDisposable
{
    public TempDir(string prefix)
    {
        Root = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"grpo-{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    /// <summary>A fresh path inside the folder.</summary>
    public string NewPath(string name) => System.IO.Path.Combine(Root, $"{Guid.NewGuid():N}-{name}");

    /// <summary>Writes <paramref name="text"/> to a fresh file and returns its path.</summary>
    public string WriteFile(string name, string text)
    {
        var path = NewPath(name);
        File.WriteAllText(path, text);
        return path;
    }

    public void Dispose()
    {
        if (Directory.Exists(Root)) Directory.Delete(Root, recursive: true);
    }
}

/// <summary>Files a model host watches, and how tests replace them.</summary>
static class ModelFiles
{
    /// <summary>Copies <paramref name="source"/> into <paramref name="dir"/> as <c>model.onnx</c>, the file a test serves.</summary>
    public static string ServedCopy(string dir, string source)
    {
        var path = System.IO.Path.Combine(dir, "model.onnx");
        File.WriteAllBytes(path, File.ReadAllBytes(source));
        return path;
    }

    /// <summary>Replaces <paramref name="target"/> the way a deployment should: write a temp file beside it, then rename over it.</summary>
    public static void ReplaceAtomically(string target, string source)
    {
        var temp = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(target)!, $".{Guid.NewGuid():N}.tmp");
        File.WriteAllBytes(temp, File.ReadAllBytes(source));
        File.Move(temp, target, overwrite: true);
    }

    /// <summary>A copy of <paramref name="source"/> cut in half: not a loadable ONNX model.</summary>
    public static string Truncated(string dir, string source)
    {
        var bytes = File.ReadAllBytes(source);
        var path = System.IO.Path.Combine(dir, $"truncated-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        return path;
    }
}
