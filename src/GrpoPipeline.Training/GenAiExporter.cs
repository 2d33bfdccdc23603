using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using GrpoPipeline.Core;
using GrpoPipeline.Training.Onnx.Proto;

namespace GrpoPipeline.Training;

/// <summary>
/// Writes a <c>decoder/1</c> model as a folder that ONNX Runtime GenAI (<c>Microsoft.ML.OnnxRuntimeGenAI</c> 0.20) loads
/// with <c>new Model(folder)</c> and decodes greedily with <c>Generator</c>: <see cref="ModelFile"/> (the same graph
/// <see cref="OnnxExporter"/> writes), <see cref="ConfigFile"/> (GenAI's schema, written from the model's
/// <c>grpo.*</c> metadata alone) and <see cref="InfoFile"/> (the token layout and lengths a caller needs). GenAI needs no
/// tokenizer files for token ids in and out; a <c>Tokenizer</c> cannot be built on the folder.
/// </summary>
/// <remarks>
/// GenAI numbers a prompt's positions from its first token (and, in a batch, right-pads the rows and masks the padding),
/// which is <see cref="OnnxContract.PositionsFromPromptStart"/>. It has no way to shift positions per prompt, so
/// decoders trained with <c>policy.positions</c> <c>from_sep</c> or <c>mirrored</c> are refused, as are factorised
/// models, which are no decoder at all.
/// </remarks>
public static class GenAiExporter
{
    /// <summary>The ONNX graph in the folder.</summary>
    public const string ModelFile = "model.onnx";
    /// <summary>GenAI's configuration in the folder.</summary>
    public const string ConfigFile = "genai_config.json";
    /// <summary>The token layout and lengths of the model, for the caller (GenAI does not read it).</summary>
    public const string InfoFile = "grpo.json";
    /// <summary>The model type GenAI runs a plain decoder-only graph of Optimum's naming under.</summary>
    public const string ModelType = "decoder";

    /// <summary>
    /// Loads the checkpoint (a run directory's latest, or a checkpoint folder), checks that GenAI can run it and writes
    /// the folder. Nothing is written for a checkpoint that is refused.
    /// </summary>
    public static CheckpointManifest Export(string runOrCheckpointDir, string outputDirectory) =>
        Checkpoint.Use(runOrCheckpointDir, state => Write(OnnxExporter.BuildModel(state.Policy, state.Shape, state.Config, state.Epoch), outputDirectory));

    /// <summary>Writes the folder for an exported <c>decoder/1</c> ONNX file (its graph is copied unchanged).</summary>
    public static void FromOnnx(string onnxPath, string outputDirectory)
    {
        using var stream = File.OpenRead(onnxPath);
        Write(ModelProto.Parser.ParseFrom(stream), outputDirectory);
    }

    static void Write(ModelProto model, string outputDirectory)
    {
        var metadata = model.MetadataProps.ToDictionary(p => p.Key, p => p.Value);
        var config = Config(metadata);                                      // refuses before anything is written
        var info = Info(metadata);
        Directory.CreateDirectory(outputDirectory);
        OnnxExporter.Write(model, Path.Combine(outputDirectory, ModelFile));
        AtomicFile.WriteAllText(Path.Combine(outputDirectory, ConfigFile), config.ToJsonString(Indented) + "\n");
        AtomicFile.WriteAllText(Path.Combine(outputDirectory, InfoFile), info.ToJsonString(Indented) + "\n");
    }

    // Relaxed escaping keeps '+' and quotes readable in grpo.json; the files are read as JSON, never embedded in HTML.
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// GenAI's <c>genai_config.json</c> for a model with <paramref name="metadata"/>: model type <c>decoder</c>, the
    /// cache's shape and the contract's tensor names, EOS as the end token and PAD as padding, and greedy search with
    /// <c>max_length</c> = the longest prompt + SEP + the longest response (EOS included), so no response is cut before
    /// the Inference loop would cut it. A prompt of n tokens gets exactly that loop's cap with
    /// <c>max_length</c> = n + 1 + <c>response_length</c> set per generator (<see cref="InfoFile"/>).
    /// </summary>
    /// <exception cref="ConfigException">The model is not a <c>decoder/1</c> model, or shifts its positions.</exception>
    internal static JsonObject Config(IReadOnlyDictionary<string, string> metadata)
    {
        var d = DecoderFacts.Read(metadata);
        return new JsonObject
        {
            ["model"] = new JsonObject
            {
                ["type"] = ModelType,
                // The logits cover values, SEP and EOS (V+2); PAD is only ever an input.
                ["vocab_size"] = d.Vocab + 2,
                ["context_length"] = d.MaxSequence,
                ["eos_token_id"] = d.Special.Eos,
                ["pad_token_id"] = d.Special.Pad,
                ["sep_token_id"] = d.Special.Sep,
                ["decoder"] = new JsonObject
                {
                    ["filename"] = ModelFile,
                    ["hidden_size"] = d.Heads * d.HeadDim,
                    ["num_attention_heads"] = d.Heads,
                    ["num_key_value_heads"] = d.Heads,
                    ["num_hidden_layers"] = d.Layers,
                    ["head_size"] = d.HeadDim,
                    ["inputs"] = new JsonObject
                    {
                        ["input_ids"] = OnnxContract.InputIds,
                        ["attention_mask"] = OnnxContract.AttentionMask,
                        ["position_ids"] = OnnxContract.PositionIds,
                        ["past_key_names"] = LayerTemplate(OnnxContract.PastKey),
                        ["past_value_names"] = LayerTemplate(OnnxContract.PastValue),
                    },
                    ["outputs"] = new JsonObject
                    {
                        ["logits"] = OnnxContract.LogitsOutput,
                        ["present_key_names"] = LayerTemplate(OnnxContract.PresentKey),
                        ["present_value_names"] = LayerTemplate(OnnxContract.PresentValue),
                    },
                },
            },
            ["search"] = new JsonObject
            {
                ["do_sample"] = false,
                ["num_beams"] = 1,
                ["max_length"] = d.MaxSequence,
                ["min_length"] = 0,
                // The graph concatenates past and new keys into a fresh present; it cannot write into a shared buffer.
                ["past_present_share_buffer"] = false,
            },
        };
    }

    /// <summary>What a caller of the folder needs to build input ids and read responses (<see cref="InfoFile"/>).</summary>
    internal static JsonObject Info(IReadOnlyDictionary<string, string> metadata)
    {
        var d = DecoderFacts.Read(metadata);
        return new JsonObject
        {
            ["contract"] = OnnxContract.DecoderVersion,
            ["task"] = metadata.GetValueOrDefault(OnnxContract.Metadata.Task),
            ["run"] = metadata.GetValueOrDefault(OnnxContract.Metadata.Run),
            ["epoch"] = metadata.TryGetValue(OnnxContract.Metadata.Epoch, out var epoch) ? int.Parse(epoch, CultureInfo.InvariantCulture) : null,
            ["vocab_size"] = d.Vocab,
            ["min_length"] = d.MinLength,
            ["max_length"] = d.MaxLength,
            ["response_length"] = d.ResponseLength,
            ["sep_token"] = d.Special.Sep,
            ["eos_token"] = d.Special.Eos,
            ["pad_token"] = d.Special.Pad,
            ["input"] = $"the prompt's tokens (ids 0..{d.Vocab - 1}, {d.MinLength}..{d.MaxLength} of them), then SEP ({d.Special.Sep})",
            ["output"] = $"the tokens generated after SEP, up to EOS ({d.Special.Eos}, not part of the response); set max_length to " +
                         $"prompt length + 1 + {d.ResponseLength} per prompt to cap responses where the Inference library does",
        };
    }

    /// <summary>GenAI's printf-style name template of a per-layer tensor (<c>past_key_values.%d.key</c>), from the contract's own names.</summary>
    static string LayerTemplate(Func<int, string> name)
    {
        const int Sentinel = 987654321;                 // a layer number no name contains otherwise
        return name(Sentinel).Replace(Sentinel.ToString(CultureInfo.InvariantCulture), "%d", StringComparison.Ordinal);
    }

    /// <summary>The decoder's sizes and tokens, read from its metadata; refuses what GenAI cannot run.</summary>
    sealed record DecoderFacts(int Vocab, int MinLength, int MaxLength, int ResponseLength, int Layers, int Heads, int HeadDim, SpecialTokens Special)
    {
        /// <summary>The longest sequence: the longest prompt, SEP and the longest response (EOS included).</summary>
        public int MaxSequence => MaxLength + 1 + ResponseLength;

        public static DecoderFacts Read(IReadOnlyDictionary<string, string> metadata)
        {
            var contract = metadata.GetValueOrDefault(OnnxContract.Metadata.Contract, OnnxContract.LegacySorterVersion);
            if (contract != OnnxContract.DecoderVersion)
                throw new ConfigException("policy.kind",
                    $"ONNX Runtime GenAI runs decoders only: this model is {metadata.GetValueOrDefault(OnnxContract.Metadata.Policy, "a factorised policy")} " +
                    $"({contract}), which answers a whole prompt in one run. Export it with --format onnx and answer with OnnxPolicy, " +
                    "or train a decoder (policy.kind: decoder)");
            var positions = metadata.GetValueOrDefault(OnnxContract.Metadata.Positions, OnnxContract.PositionsFromPromptStart);
            if (positions != OnnxContract.PositionsFromPromptStart)
                throw new ConfigException("policy.positions",
                    $"ONNX Runtime GenAI numbers positions from each prompt's first token ({OnnxContract.PositionsFromPromptStart}) and cannot shift them per prompt; " +
                    $"this decoder was trained with policy.positions '{positions}' ({OnnxContract.Metadata.Positions} in the model). " +
                    $"Export it with --format onnx and decode with OnnxPolicy (which shifts them), or train with policy.positions: {OnnxContract.PositionsFromPromptStart}");
            int vocab = Int(metadata, OnnxContract.Metadata.VocabSize);
            var special = new SpecialTokens(Int(metadata, OnnxContract.Metadata.SepToken), Int(metadata, OnnxContract.Metadata.EosToken), Int(metadata, OnnxContract.Metadata.PadToken));
            return new DecoderFacts(vocab, Int(metadata, OnnxContract.Metadata.MinLength), Int(metadata, OnnxContract.Metadata.MaxLength),
                Int(metadata, OnnxContract.Metadata.ResponseLength), Int(metadata, OnnxContract.Metadata.Layers),
                Int(metadata, OnnxContract.Metadata.Heads), Int(metadata, OnnxContract.Metadata.HeadDim), special);
        }

        static int Int(IReadOnlyDictionary<string, string> metadata, string key) =>
            metadata.TryGetValue(key, out var text) && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value)
                ? value
                : throw new ConfigException(key, $"the model's metadata has no integer '{key}' (found {(text is null ? "nothing" : $"\"{text}\"")}): it is not a decoder/1 model of this build");
    }
}
