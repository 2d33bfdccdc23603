using System.Buffers.Binary;
using System.Text.Json;
using NUnit.Framework;

namespace GrpoPipeline.Cli.Tests;

/// <summary><c>grpo export</c> as a user runs it: the built CLI in its own process, judged by exit code, output and files.</summary>
[TestFixture]
public sealed class ExportCommandTests
{
    const string TinyConfig = """
        {
          "runName": "cli-export",
          "epochs": 3,
          "task": { "kind": "fixed", "prompts": [[1, 0, 2], [3, 2, 4], [1, 2, 3]], "heldOutSize": 16 },
          "run": { "logEvery": 10, "heldOutEvery": 10, "checkpointEvery": 10, "threads": 1 }
        }
        """;

    string _dir = null!;
    string _runDir = null!;

    [OneTimeSetUp]
    public void TrainOnce()
    {
        _dir = Path.Combine(Path.GetTempPath(), $"grpo-cli-export-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_dir);
        var config = Path.Combine(_dir, "tiny.json");
        File.WriteAllText(config, TinyConfig);
        _runDir = Path.Combine(_dir, "run");
        var train = Grpo(_dir, "train", "--config", config, "--run-dir", _runDir);
        Assert.That(train.ExitCode, Is.EqualTo(0), train.ToString());
    }

    [OneTimeTearDown]
    public void TearDown()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    static GrpoResult Grpo(string workingDirectory, params string[] args) => GrpoCli.Run(workingDirectory, args);

    [Test]
    public void Format_Safetensors_Writes_Weights_And_Config_Under_Models_By_Default()
    {
        var work = Path.Combine(_dir, "work");
        Directory.CreateDirectory(work);

        var result = Grpo(work, "export", "--checkpoint", _runDir, "--format", "safetensors");

        Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
        var weights = Path.Combine(work, "models", "cli-export.safetensors");
        var manifest = Path.Combine(work, "models", "cli-export.json");
        Assert.That(result.Output, Does.Contain(weights).And.Contain(manifest));
        var bytes = File.ReadAllBytes(weights);
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        using var header = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength));
        Assert.That(header.RootElement.EnumerateObject().Select(p => p.Name),
            Is.EquivalentTo(new[] { "__metadata__", "decode_weights", "embedding.weight", "encode_weights" }));
        using var config = JsonDocument.Parse(File.ReadAllText(manifest));
        Assert.That(config.RootElement.GetProperty("epoch").GetInt32(), Is.EqualTo(3));
        Assert.That(config.RootElement.GetProperty("shape").GetProperty("options").GetProperty("kind").GetString(), Is.EqualTo("seed"));
        Assert.That(config.RootElement.GetProperty("config").GetProperty("runName").GetString(), Is.EqualTo("cli-export"));
    }

    [Test]
    public void An_Unknown_Format_Exits_2_And_Names_The_Formats()
    {
        var output = Path.Combine(_dir, "never.bin");

        var result = Grpo(_dir, "export", "--checkpoint", _runDir, "--format", "pickle", "--output", output);

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.StdErr, Does.Contain("pickle").And.Contain("onnx").And.Contain("safetensors"));
        Assert.That(File.Exists(output), Is.False);
    }

    [Test]
    public void The_Default_Format_Is_Still_Onnx()
    {
        var output = Path.Combine(_dir, "model.onnx");

        var result = Grpo(_dir, "export", "--checkpoint", _runDir, "--output", output);

        Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
        Assert.That(File.Exists(output), Is.True);
        Assert.That(File.Exists(Path.ChangeExtension(output, ".json")), Is.False, "no safetensors manifest for ONNX");
    }

    [Test]
    public void Format_Genai_Refuses_A_Factorised_Checkpoint_With_Exit_2_And_Writes_No_Folder()
    {
        var work = Path.Combine(_dir, "genai-work");
        Directory.CreateDirectory(work);

        var result = Grpo(work, "export", "--checkpoint", _runDir, "--format", "genai");

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.StdErr, Does.Contain("ONNX Runtime GenAI runs decoders only").And.Contain("--format onnx"));
        Assert.That(Directory.Exists(Path.Combine(work, "models", "cli-export-genai")), Is.False);
    }

    [Test]
    public void Format_Genai_Writes_A_Decoder_Folder_Under_Models_By_Default()
    {
        var work = Path.Combine(_dir, "genai-decoder");
        Directory.CreateDirectory(work);
        var config = Path.Combine(work, "decoder.json");
        File.WriteAllText(config, """
            {
              "runName": "cli-decoder", "epochs": 2,
              "task": { "kind": "variable", "minLength": 1, "maxLength": 4, "vocabSize": 6, "batchSize": 8, "heldOutSize": 0 },
              "policy": { "kind": "decoder", "dModel": 16, "heads": 2, "layers": 1, "mlpDim": 16 },
              "grpo": { "groupSize": 4, "innerSteps": 1 },
              "run": { "logEvery": 10, "heldOutEvery": 0, "checkpointEvery": 10, "threads": 1 }
            }
            """);
        var runDir = Path.Combine(work, "run");
        var train = Grpo(work, "train", "--config", config, "--run-dir", runDir);
        Assert.That(train.ExitCode, Is.EqualTo(0), train.ToString());

        var result = Grpo(work, "export", "--checkpoint", runDir, "--format", "genai");

        Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
        var folder = Path.Combine(work, "models", "cli-decoder-genai");
        Assert.That(result.Output, Does.Contain(folder));
        Assert.That(Directory.GetFiles(folder).Select(Path.GetFileName), Is.EquivalentTo(new[] { "model.onnx", "genai_config.json", "grpo.json" }));
        using var genai = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "genai_config.json")));
        Assert.That(genai.RootElement.GetProperty("model").GetProperty("vocab_size").GetInt32(), Is.EqualTo(6 + 2));
        Assert.That(genai.RootElement.GetProperty("search").GetProperty("max_length").GetInt32(), Is.EqualTo(4 + 1 + 5));
    }
}
