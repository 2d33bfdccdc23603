using System.Text.Json;
using GrpoPipeline.Core;
using NUnit.Framework;

namespace GrpoPipeline.Training.Tests.Export;

/// <summary>
/// The ONNX Runtime GenAI folder (<see cref="GenAiExporter"/>): the decoder graph unchanged, a <c>genai_config.json</c>
/// written from the model's metadata, and a clear refusal of what GenAI cannot run. That GenAI decodes the folder as the
/// Inference library does is held by the Samples suite, from a fresh app that restores GenAI alone.
/// </summary>
[TestFixture]
public sealed class GenAiExportTests
{
    static string Fixture(string name) => Path.Combine(TestContext.CurrentContext.TestDirectory, "fixtures", name);

    [Test]
    public void The_Decoder_Fixture_Gets_Its_Graph_Unchanged_And_A_Greedy_Config_From_Its_Metadata()
    {
        var folder = ExportedModels.NewPath("decoder-genai");

        GenAiExporter.FromOnnx(Fixture("decoder-l1to6v8.onnx"), folder);

        Assert.That(Directory.GetFiles(folder).Select(Path.GetFileName),
            Is.EquivalentTo(new[] { GenAiExporter.ModelFile, GenAiExporter.ConfigFile, GenAiExporter.InfoFile }));
        Assert.That(File.ReadAllBytes(Path.Combine(folder, GenAiExporter.ModelFile)), Is.EqualTo(File.ReadAllBytes(Fixture("decoder-l1to6v8.onnx"))));

        // The fixture: V=8 (SEP 8, EOS 9, PAD 10), lengths 1..6, responses of at most 7 tokens, 2 layers of 4 heads of 8.
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, GenAiExporter.ConfigFile)));
        var model = config.RootElement.GetProperty("model");
        Assert.That(model.GetProperty("type").GetString(), Is.EqualTo("decoder"));
        Assert.That((model.GetProperty("vocab_size").GetInt32(), model.GetProperty("eos_token_id").GetInt32(), model.GetProperty("pad_token_id").GetInt32()),
            Is.EqualTo((10, 9, 10)), "logits over values, SEP and EOS; EOS ends; PAD pads");
        var decoder = model.GetProperty("decoder");
        Assert.That(decoder.GetProperty("filename").GetString(), Is.EqualTo(GenAiExporter.ModelFile));
        Assert.That((decoder.GetProperty("num_hidden_layers").GetInt32(), decoder.GetProperty("num_attention_heads").GetInt32(),
            decoder.GetProperty("num_key_value_heads").GetInt32(), decoder.GetProperty("head_size").GetInt32()), Is.EqualTo((2, 4, 4, 8)));
        var inputs = decoder.GetProperty("inputs");
        var outputs = decoder.GetProperty("outputs");
        for (int layer = 0; layer < 2; layer++)
        {
            Assert.That(Layer(inputs, "past_key_names", layer), Is.EqualTo(OnnxContract.PastKey(layer)));
            Assert.That(Layer(inputs, "past_value_names", layer), Is.EqualTo(OnnxContract.PastValue(layer)));
            Assert.That(Layer(outputs, "present_key_names", layer), Is.EqualTo(OnnxContract.PresentKey(layer)));
            Assert.That(Layer(outputs, "present_value_names", layer), Is.EqualTo(OnnxContract.PresentValue(layer)));
        }
        Assert.That(inputs.GetProperty("position_ids").GetString(), Is.EqualTo(OnnxContract.PositionIds));
        var search = config.RootElement.GetProperty("search");
        Assert.That(search.GetProperty("do_sample").GetBoolean(), Is.False);
        Assert.That(search.GetProperty("max_length").GetInt32(), Is.EqualTo(6 + 1 + 7), "the longest prompt, SEP and the longest response");
        Assert.That(search.GetProperty("past_present_share_buffer").GetBoolean(), Is.False);

        using var info = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, GenAiExporter.InfoFile)));
        var root = info.RootElement;
        Assert.That((root.GetProperty("sep_token").GetInt32(), root.GetProperty("eos_token").GetInt32(), root.GetProperty("response_length").GetInt32(),
            root.GetProperty("min_length").GetInt32(), root.GetProperty("max_length").GetInt32()), Is.EqualTo((8, 9, 7, 1, 6)));
        Assert.That(root.GetProperty("input").GetString(), Does.Contain("then SEP (8)"));
    }

    static string Layer(JsonElement names, string key, int layer) => names.GetProperty(key).GetString()!.Replace("%d", layer.ToString());

    [TestCase(DecoderPositions.FromSep, "from_sep")]
    [TestCase(DecoderPositions.Mirrored, "mirrored")]
    public void A_Decoder_Whose_Positions_Count_From_Sep_Is_Refused_And_Nothing_Is_Written(DecoderPositions positions, string name)
    {
        var config = new TrainConfig
        {
            RunName = $"genai-{name}",
            Task = new TaskOptions { Kind = TaskKind.Variable, MinLength = 1, MaxLength = 4, VocabSize = 6, HeldOutSize = 0 },
            Policy = new PolicyOptions { Kind = PolicyKind.Decoder, DModel = 16, Heads = 2, Layers = 1, MlpDim = 16, Positions = positions },
            Run = new RunOptions { Threads = 1 },
        };
        using var state = TrainingState.Create(config);
        var onnx = ExportedModels.NewPath($"{name}.onnx");
        OnnxExporter.Export(state.Policy, state.Shape, state.Config, 0, onnx);
        var folder = ExportedModels.NewPath($"{name}-genai");

        var error = Assert.Throws<ConfigException>(() => GenAiExporter.FromOnnx(onnx, folder))!;

        Assert.That(error.Key, Is.EqualTo("policy.positions"));
        Assert.That(error.Message, Does.Contain($"'{name}'").And.Contain("from_prompt_start").And.Contain("--format onnx"));
        Assert.That(Directory.Exists(folder), Is.False, "a refused model leaves no folder behind");
    }

    [Test]
    public void A_Factorised_Model_Is_Refused_And_Nothing_Is_Written()
    {
        var folder = ExportedModels.NewPath("seed-genai");

        var error = Assert.Throws<ConfigException>(() => GenAiExporter.FromOnnx(Fixture("seed-l3v5.onnx"), folder))!;

        Assert.That(error.Key, Is.EqualTo("policy.kind"));
        Assert.That(error.Message, Does.Contain("decoders only").And.Contain("seed").And.Contain("factorised/1").And.Contain("--format onnx"));
        Assert.That(Directory.Exists(folder), Is.False);
    }
}
