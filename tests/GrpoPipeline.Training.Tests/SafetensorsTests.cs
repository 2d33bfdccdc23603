using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using GrpoPipeline.Core;
using NUnit.Framework;
using static GrpoPipeline.Training.Tests.TestConfigs;
using static TorchSharp.torch;

namespace GrpoPipeline.Training.Tests;

/// <summary>
/// <c>grpo export --format safetensors</c>: the file parsed back by hand against the safetensors layout, and loaded by
/// plain PyTorch (Debian's python3-torch) when the machine has it.
/// </summary>
[TestFixture, NonParallelizable]   // torch's global generator seeds the initial weights
public sealed class SafetensorsTests
{
    string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = NewTempDir("safetensors");

    [TearDown]
    public void TearDown() => DeleteDir(_dir);

    static TrainConfig TransformerConfig() => TinyRandom(3) with
    {
        RunName = "transformer-test",
        Policy = new PolicyOptions { Kind = PolicyKind.Transformer, DModel = 16, Heads = 4, Layers = 2, MlpDim = 32 },
        Grpo = new GrpoOptions { GroupSize = 4, InnerSteps = 2, KlCoef = 0 },
    };

    /// <summary>A policy trained for a few epochs, so its weights are not the initial ones.</summary>
    static GrpoTrainer Trained(TrainConfig config, int epochs = 3)
    {
        var trainer = new GrpoTrainer(TrainingState.Create(config));
        Run(trainer, epochs);
        return trainer;
    }

    sealed record ParsedTensor(string Name, string Dtype, long[] Shape, long Begin, long End, byte[] Data);

    sealed record Parsed(long HeaderLength, Dictionary<string, string> Metadata, List<ParsedTensor> Tensors, long DataLength);

    /// <summary>The safetensors layout, read with no code from the writer: u64 LE header length, JSON, data section.</summary>
    static Parsed Parse(byte[] file)
    {
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(file);
        Assert.That(8 + headerLength, Is.LessThanOrEqualTo(file.Length));
        var header = file.AsSpan(8, (int)headerLength);
        Assert.That(header[0], Is.EqualTo((byte)'{'), "the header must start with '{'");
        using var json = JsonDocument.Parse(header.ToArray());   // trailing spaces are legal JSON whitespace
        var data = file.AsSpan(8 + (int)headerLength);
        var metadata = new Dictionary<string, string>();
        var tensors = new List<ParsedTensor>();
        foreach (var entry in json.RootElement.EnumerateObject())
        {
            if (entry.Name == "__metadata__")
            {
                foreach (var kv in entry.Value.EnumerateObject()) metadata.Add(kv.Name, kv.Value.GetString()!);   // strings only
                continue;
            }
            var offsets = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            Assert.That(offsets, Has.Length.EqualTo(2));
            tensors.Add(new ParsedTensor(entry.Name, entry.Value.GetProperty("dtype").GetString()!,
                entry.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray(),
                offsets[0], offsets[1], data[(int)offsets[0]..(int)offsets[1]].ToArray()));
        }
        return new Parsed(headerLength, metadata, tensors, data.Length);
    }

    static void AssertMatchesStateDict(Parsed parsed, nn.Module<Tensor, Tensor> policy)
    {
        var stateDict = policy.state_dict();
        Assert.That(parsed.Tensors.Select(t => t.Name), Is.EqualTo(stateDict.Keys.Order(StringComparer.Ordinal)),
            "every state_dict entry, under its checkpoint name, sorted");
        Assert.That((8 + parsed.HeaderLength) % 8, Is.EqualTo(0), "the header is padded so the data starts 8-byte aligned");

        long expectedBegin = 0;
        foreach (var t in parsed.Tensors)
        {
            var source = stateDict[t.Name];
            Assert.That(t.Dtype, Is.EqualTo("F32"), t.Name);
            Assert.That(t.Shape, Is.EqualTo(source.shape), t.Name);
            Assert.That(t.Begin, Is.EqualTo(expectedBegin), $"{t.Name}: tensors are contiguous in header order");
            Assert.That(t.End - t.Begin, Is.EqualTo(source.numel() * sizeof(float)), t.Name);
            expectedBegin = t.End;

            var expected = source.detach().contiguous().data<float>().ToArray().Select(BitConverter.SingleToUInt32Bits).ToArray();
            var actual = Enumerable.Range(0, expected.Length).Select(i => BinaryPrimitives.ReadUInt32LittleEndian(t.Data.AsSpan(i * 4))).ToArray();
            Assert.That(actual, Is.EqualTo(expected), $"{t.Name}: bit-for-bit, row-major, little-endian");
        }
        Assert.That(expectedBegin, Is.EqualTo(parsed.DataLength), "the data section is entirely indexed, with no hole or tail");
    }

    [Test]
    public void A_Seed_Policy_Round_Trips_Bit_For_Bit_With_Metadata_And_Manifest()
    {
        var config = Tiny(3);
        using var trainer = Trained(config);
        var path = Path.Combine(_dir, "out", "seed.safetensors");

        SafetensorsExporter.Export(trainer.State.Policy, trainer.State.Shape, config, trainer.State.Epoch, path);

        var parsed = Parse(File.ReadAllBytes(path));
        AssertMatchesStateDict(parsed, trainer.State.Policy);
        Assert.That(parsed.Tensors.Select(t => t.Name), Is.EqualTo(new[] { "decode_weights", "embedding.weight", "encode_weights" }));
        Assert.That(parsed.Metadata["format"], Is.EqualTo("pt"));
        Assert.That(parsed.Metadata[OnnxContract.Metadata.Policy], Is.EqualTo("seed"));
        Assert.That(parsed.Metadata[OnnxContract.Metadata.Run], Is.EqualTo(config.RunName));
        Assert.That(parsed.Metadata[OnnxContract.Metadata.Epoch], Is.EqualTo("3"));

        var manifestPath = Path.Combine(_dir, "out", "seed.json");
        Assert.That(SafetensorsExporter.ManifestPathFor(path), Is.EqualTo(manifestPath));
        var manifest = JsonSerializer.Deserialize<SafetensorsManifest>(File.ReadAllText(manifestPath), TrainConfig.Json)!;
        Assert.That(manifest.Weights, Is.EqualTo("seed.safetensors"));
        Assert.That(manifest.Epoch, Is.EqualTo(3));
        Assert.That(manifest.Shape, Is.EqualTo(trainer.State.Shape));
        Assert.That(manifest.Config.ToJson(), Is.EqualTo(config.ToJson()));
        Assert.That(Directory.GetFiles(Path.Combine(_dir, "out")).Select(Path.GetFileName), Is.EquivalentTo(new[] { "seed.safetensors", "seed.json" }),
            "no temporary file is left behind");
    }

    [Test]
    public void A_Transformer_Policy_Round_Trips_Bit_For_Bit_Under_Its_Checkpoint_Names()
    {
        var config = TransformerConfig();
        using var trainer = Trained(config);
        var path = Path.Combine(_dir, "transformer.safetensors");

        SafetensorsExporter.Export(trainer.State.Policy, trainer.State.Shape, config, trainer.State.Epoch, path);
        var first = File.ReadAllBytes(path);
        SafetensorsExporter.Export(trainer.State.Policy, trainer.State.Shape, config, trainer.State.Epoch, path);

        var parsed = Parse(first);
        AssertMatchesStateDict(parsed, trainer.State.Policy);
        Assert.That(parsed.Tensors.Select(t => t.Name), Is.SupersetOf(new[]
        {
            "token_embedding.weight", "position_embedding", "blocks.0.qkv.weight", "blocks.1.mlp_out.bias", "final_norm.weight", "head.weight",
        }));
        Assert.That(parsed.Metadata[OnnxContract.Metadata.Policy], Is.EqualTo("transformer"));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(first), "the same weights give the same bytes");
    }

    [Test]
    public void Exporting_A_Checkpoint_Writes_The_Weights_The_Checkpoint_Holds()
    {
        var run = new RunDirectory(Path.Combine(_dir, "run"));
        using (var training = TrainingRun.StartNew(Tiny(10), run, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance))
            training.Train();
        var path = Path.Combine(_dir, "seed.safetensors");

        var manifest = SafetensorsExporter.Export(run.Root, path);

        using var state = Checkpoint.Load(run.LatestCheckpoint()!);
        Assert.That(manifest.Epoch, Is.EqualTo(10));
        AssertMatchesStateDict(Parse(File.ReadAllBytes(path)), state.Policy);
    }

    static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "GrpoPipeline.sln"))) return dir.FullName;
        throw new InvalidOperationException("GrpoPipeline.sln not found above the test directory");
    }

    [Test]
    public void PyTorch_Loads_The_Seed_Policy_And_Computes_The_Same_Logits()
    {
        DebianPython.Require("torch", "python3-torch");

        var config = Tiny(5);
        using var trainer = Trained(config, epochs: 5);
        var path = Path.Combine(_dir, "seed.safetensors");
        SafetensorsExporter.Export(trainer.State.Policy, trainer.State.Shape, config, trainer.State.Epoch, path);
        long[][] prompts = [[1, 0, 2], [3, 2, 4], [1, 2, 3], [4, 4, 0], [0, 1, 2]];

        var script = Path.Combine(RepoRoot(), "tools", "safetensors", "load_seed_policy.py");
        var result = DebianPython.Run(script, path, "--prompts", JsonSerializer.Serialize(prompts));
        Assert.That(result.ExitCode, Is.EqualTo(0), result.StdErr);

        using var output = JsonDocument.Parse(result.StdOut);
        var pythonLogits = output.RootElement.GetProperty("logits").EnumerateArray()
            .SelectMany(b => b.EnumerateArray()).SelectMany(r => r.EnumerateArray()).Select(v => v.GetDouble()).ToArray();
        Assert.That(output.RootElement.GetProperty("metadata").GetProperty(OnnxContract.Metadata.Policy).GetString(), Is.EqualTo("seed"));

        using var scope = NewDisposeScope();
        using var _ = no_grad();
        trainer.State.Policy.eval();
        var logits = trainer.State.Policy.forward(tensor(prompts.SelectMany(p => p).ToArray(), [prompts.Length, 3]));
        var expected = logits.data<float>().ToArray();
        Assert.That(logits.shape, Is.EqualTo(new long[] { 5, 3, 5 }));
        Assert.That(pythonLogits, Has.Length.EqualTo(expected.Length));
        Assert.That(pythonLogits, Is.EqualTo(expected.Select(v => (double)v)).Within(1e-5), "PyTorch's logits of the loaded file");
        Assert.That(expected.Select(Math.Abs).Max(), Is.GreaterThan(0.1f), "the logits are not trivially zero");
    }
}
