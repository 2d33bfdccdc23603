using System.Text.Json;
using NUnit.Framework;

namespace GrpoPipeline.Cli.Tests;

/// <summary><c>grpo bench inference</c> as a user runs it: the built CLI in its own process, on a run it trained.</summary>
[TestFixture]
public sealed class BenchCommandTests
{
    // Addition: its prompts are digits around a '+', so random tokens are not prompts of it.
    const string AddConfig = """
        {
          "runName": "bench-add",
          "seed": 0,
          "epochs": 2,
          "task": { "name": "add", "add": { "minDigits": 1, "maxDigits": 2 }, "kind": "variable", "batchSize": 16, "heldOutSize": 64 },
          "policy": { "kind": "decoder", "dModel": 16, "heads": 2, "layers": 1, "mlpDim": 32 },
          "grpo": { "groupSize": 4 },
          "run": { "threads": 1 }
        }
        """;

    string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), $"grpo-bench-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public void Bench_Inference_Measures_A_Task_Whose_Prompts_Are_Not_Any_Tokens_On_Its_Own_Prompts()
    {
        var config = Path.Combine(_dir, "add.json");
        File.WriteAllText(config, AddConfig);
        var run = Path.Combine(_dir, "run");
        var trained = GrpoCli.Run(_dir, "train", "--config", config, "--run-dir", run);
        Assert.That(trained.ExitCode, Is.EqualTo(0), trained.ToString());

        var bench = GrpoCli.Run(_dir, "bench", "inference", "--checkpoint", run, "--batch", "8", "--seconds", "0.1");

        Assert.That(bench.ExitCode, Is.EqualTo(0), bench.ToString());
        var greedy = bench.StdOut.Split('\n').Where(l => l.StartsWith("{\"benchmark\":\"greedy_throughput\"")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.That(greedy, Is.Not.Empty, bench.ToString());
        foreach (var line in greedy)
        {
            // "1+2=" .. "12+34=": the add task's prompts at 1..2 digits have 4..6 tokens.
            var lengths = line.GetProperty("lengths").GetString()!.Split("..").Select(int.Parse).ToArray();
            Assert.That(lengths[0], Is.InRange(4, lengths[1]), line.ToString());
            Assert.That(lengths[1], Is.InRange(lengths[0], 6), line.ToString());
            var identical = line.GetProperty("identicalResponses").GetString()!.Split('/').Select(int.Parse).ToArray();
            Assert.That(identical[0], Is.EqualTo(identical[1]), $"ONNX Runtime and TorchSharp agree: {line}");
            if (line.GetProperty("batch").GetInt32() == 8) Assert.That(identical[1], Is.EqualTo(8), line.ToString());
            Assert.That(line.GetProperty("ortPromptsPerSecond").GetDouble(), Is.GreaterThan(0), line.ToString());
        }
    }
}
