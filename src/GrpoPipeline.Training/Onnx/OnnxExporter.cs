using System.Reflection;
using System.Text.Json;
using Google.Protobuf;
using GrpoPipeline.Core;
using GrpoPipeline.Training.Decoding;
using GrpoPipeline.Training.Onnx.Proto;
using TorchSharp;
using static TorchSharp.torch;

namespace GrpoPipeline.Training.Onnx;

/// <summary>
/// Exports a trained policy to an ONNX file that follows <see cref="OnnxContract"/>: a factorised policy as
/// <c>sorter/1</c> (input <c>prompts</c> int64 [batch, L], outputs <c>logits</c> float32 [batch, L, V] and
/// <c>response</c> int64 [batch, L], the greedy argmax), a decoder as <c>decoder/1</c> (one decode step with a KV
/// cache, see <see cref="OnnxContract.Decoder"/>). Opset 17, IR 8, built from Gather/MatMul/Gemm/Reshape (ORT's CPU
/// Einsum is much slower than MatMul).
/// </summary>
public static class OnnxExporter
{
    /// <summary>Loads the checkpoint (a run directory's latest, or a checkpoint folder) and writes the model atomically.</summary>
    public static CheckpointManifest Export(string runOrCheckpointDir, string outputPath)
    {
        var checkpointDir = Checkpoint.Resolve(runOrCheckpointDir);
        var manifest = Checkpoint.ReadManifest(checkpointDir);
        using var state = Checkpoint.Load(checkpointDir);
        Export(state.Policy, state.Shape, state.Config, state.Epoch, outputPath);
        return manifest;
    }

    /// <summary>Writes <paramref name="policy"/> as an ONNX model, atomically (temp file, then rename).</summary>
    public static void Export(nn.Module<Tensor, Tensor> policy, PolicyShape shape, TrainConfig config, int epoch, string outputPath) =>
        Write(BuildModel(policy, shape, config, epoch), outputPath);

    /// <summary>The ONNX model of <paramref name="policy"/>, with the contract's metadata.</summary>
    internal static ModelProto BuildModel(nn.Module<Tensor, Tensor> policy, PolicyShape shape, TrainConfig config, int epoch)
    {
        using var _ = no_grad();
        var (graph, doc) = policy is DecoderPolicy decoder ? (DecoderModel(decoder), DecoderDoc) : (SorterModel(policy, shape), SorterDoc);
        var model = new ModelProto
        {
            IrVersion = OnnxContract.IrVersion,
            ProducerName = OnnxContract.ProducerName,
            ProducerVersion = ProducerVersion,
            Domain = "ai.grpopipeline",
            ModelVersion = epoch,
            DocString = doc,
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = OnnxContract.Opset });
        foreach (var (key, value) in Metadata(policy, shape, config, epoch))
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return model;
    }

    const string SorterDoc = "GRPO-trained sorter: prompts [batch, L] int64 → logits [batch, L, V] float32 and greedy response [batch, L] int64.";
    const string DecoderDoc = "GRPO-trained autoregressive sorter (decoder/1): input_ids, attention_mask, position_ids and each layer's " +
        "past_key_values → next-token logits [batch, sequence, V+2] by token id and each layer's present key/value. " +
        "Prompt: values 0..V-1 then SEP (V); response: values then EOS (V+1); PAD (V+2) pads rows on the left.";

    static GraphProto SorterModel(nn.Module<Tensor, Tensor> policy, PolicyShape shape)
    {
        if (shape.ResponseLength != shape.PromptLength)
            throw new NotSupportedException($"the {OnnxContract.Factorised.Version} contract answers with one token per prompt token; this policy has L={shape.PromptLength}, R={shape.ResponseLength}");
        var contract = OnnxContract.Factorised;
        var sizes = OnnxContract.FactorisedSizes(shape.PromptLength, shape.Vocab);
        var graph = new OnnxGraphBuilder($"grpo_{shape.Options.Kind.ToString().ToLowerInvariant()}_sorter");
        foreach (var input in contract.Inputs) graph.Graph.Input.Add(OnnxGraphBuilder.Value(input, sizes));
        string logits = policy switch
        {
            SeedPolicy seed => SeedGraph(graph, seed),
            TransformerSorterPolicy transformer => TransformerGraph(graph, transformer),
            _ => throw new NotSupportedException($"ONNX export of {policy.GetType().Name} is not implemented"),
        };
        if (logits != OnnxContract.LogitsOutput) throw new InvalidOperationException("policy graph must end in the logits output");
        // Greedy response: first maximal index, as torch.argmax.
        graph.Node("ArgMax", [OnnxContract.LogitsOutput], OnnxContract.ResponseOutput,
            OnnxGraphBuilder.Int("axis", 2), OnnxGraphBuilder.Int("keepdims", 0), OnnxGraphBuilder.Int("select_last_index", 0));
        foreach (var output in contract.Outputs) graph.Graph.Output.Add(OnnxGraphBuilder.Value(output, sizes));
        return graph.Graph;
    }

    static GraphProto DecoderModel(DecoderPolicy p)
    {
        var contract = OnnxContract.Decoder(p.Layers);
        var sizes = OnnxContract.DecoderSizes(p.Vocab, p.Heads, p.DModel / p.Heads);
        var graph = new OnnxGraphBuilder("grpo_decoder_sorter");
        foreach (var input in contract.Inputs) graph.Graph.Input.Add(OnnxGraphBuilder.Value(input, sizes));
        DecoderGraph.Build(graph, p);
        foreach (var output in contract.Outputs) graph.Graph.Output.Add(OnnxGraphBuilder.Value(output, sizes));
        return graph.Graph;
    }

    /// <summary>
    /// This build's version without the source-control suffix (<c>0.2.0</c>, not <c>0.2.0+3f2a…</c>), so the same
    /// policy exports to the same bytes from any commit of one version.
    /// </summary>
    static string ProducerVersion =>
        (typeof(OnnxExporter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0").Split('+')[0];

    static IEnumerable<(string, string)> Metadata(nn.Module<Tensor, Tensor> policy, PolicyShape shape, TrainConfig config, int epoch)
    {
        yield return (OnnxContract.Metadata.Contract, policy is DecoderPolicy ? OnnxContract.DecoderVersion : OnnxContract.Factorised.Version);
        yield return (OnnxContract.Metadata.Task, config.Task.Name);
        yield return (OnnxContract.Metadata.Policy, JsonNamingPolicy.SnakeCaseLower.ConvertName(shape.Options.Kind.ToString()));
        yield return (OnnxContract.Metadata.VocabSize, shape.Vocab.ToString());
        yield return (OnnxContract.Metadata.PromptLength, shape.PromptLength.ToString());
        yield return (OnnxContract.Metadata.ResponseLength, shape.ResponseLength.ToString());
        if (policy is DecoderPolicy decoder)
        {
            yield return (OnnxContract.Metadata.MinLength, TaskRegistry.Create(config.Task).Rules.MinLength.ToString());
            yield return (OnnxContract.Metadata.MaxLength, decoder.MaxLength.ToString());
            yield return (OnnxContract.Metadata.SepToken, decoder.Special.Sep.ToString());
            yield return (OnnxContract.Metadata.EosToken, decoder.Special.Eos.ToString());
            yield return (OnnxContract.Metadata.PadToken, decoder.Special.Pad.ToString());
            yield return (OnnxContract.Metadata.Layers, decoder.Layers.ToString());
            yield return (OnnxContract.Metadata.Heads, decoder.Heads.ToString());
            yield return (OnnxContract.Metadata.HeadDim, (decoder.DModel / decoder.Heads).ToString());
            // Written only when not the default, so default decoders export to the same bytes as before the key existed.
            if (decoder.PositionOrigin != DecoderPositions.FromPromptStart)
                yield return (OnnxContract.Metadata.Positions, JsonNamingPolicy.SnakeCaseLower.ConvertName(decoder.PositionOrigin.ToString()));
        }
        yield return (OnnxContract.Metadata.Run, config.RunName);
        yield return (OnnxContract.Metadata.Epoch, epoch.ToString());
        yield return (OnnxContract.Metadata.Config, config.ToJson());
        yield return (OnnxContract.Metadata.TaskOptions, JsonSerializer.Serialize(config.Task, TrainConfig.Json));
    }

    /// <summary>
    /// The lecture's model with its einsums as MatMuls on pre-reshaped weights:
    /// Gather(emb) → [B, L·D] · enc[L·D, D] → · dec[D, R·D] → [B, R, D] · embᵀ[D, V].
    /// </summary>
    static string SeedGraph(OnnxGraphBuilder g, SeedPolicy p)
    {
        int l = p.PromptLength, r = p.ResponseLength, d = p.Dim, v = p.Vocab;
        var embedding = g.Initializer("embedding.weight", OnnxLayers.Floats(p.EmbeddingWeight), v, d);
        var encode = g.Initializer("encode_weights", OnnxLayers.Floats(p.EncodeWeights.reshape(l * d, d)), l * d, d);
        var decode = g.Initializer("decode_weights", OnnxLayers.Floats(p.DecodeWeights.permute(1, 0, 2).reshape(d, r * d)), d, r * d);
        var unembed = g.Initializer("embedding.weight.T", OnnxLayers.Floats(p.EmbeddingWeight.t()), d, v);

        var tokens = g.Node("Gather", [embedding, OnnxContract.PromptsInput], "token_embeddings", OnnxGraphBuilder.Int("axis", 0));
        var flat = g.Node("Reshape", [tokens, g.Int64Initializer("shape_b_ld", -1, l * d)], "flat_embeddings");
        var encoded = g.Node("MatMul", [flat, encode], "encoded");
        var decodedFlat = g.Node("MatMul", [encoded, decode], "decoded_flat");
        var decoded = g.Node("Reshape", [decodedFlat, g.Int64Initializer("shape_b_r_d", -1, r, d)], "decoded");
        return g.Node("MatMul", [decoded, unembed], OnnxContract.LogitsOutput);
    }

    /// <summary>
    /// The transformer with opset-17 ops only, shaped for ONNX Runtime's CPU fusions. Token activations stay 2-D,
    /// [B·L, D], so every Linear is one Gemm with its bias; only attention goes through [B, H, L, dh] by
    /// Reshape/Transpose (MatMul → Softmax → MatMul). GELU is torch's exact form, written as
    /// x · (erf(x / √2) + 1) · ½, the pattern ORT fuses into one Gelu kernel; the residual Add folds into the next
    /// LayerNormalization. Measured with <c>grpo bench inference</c>: ~1.5× the throughput of the plain
    /// MatMul/Add graph at batch 1,024.
    /// </summary>
    static string TransformerGraph(OnnxGraphBuilder g, TransformerSorterPolicy p)
    {
        var layers = new OnnxLayers(g);
        int l = p.Length, d = p.DModel, h = p.Heads, dh = d / h;
        var tokens = g.Node("Gather", [g.Initializer("token_embedding.weight", OnnxLayers.Floats(p.TokenEmbedding), p.Vocab, d), OnnxContract.PromptsInput],
            "token_embeddings", OnnxGraphBuilder.Int("axis", 0));
        var embedded = g.Node("Add", [tokens, g.Initializer("position_embedding", OnnxLayers.Floats(p.PositionEmbedding), l, d)], "x0");
        var tokenShape = g.Int64Initializer("shape_bl_d", -1, d);
        var x = g.Node("Reshape", [embedded, tokenShape], "x0_tokens");                            // [B·L, D]

        var splitShape = g.Int64Initializer("shape_b_l_3h_dh", -1, l, 3 * h, dh);
        var scale = g.FloatScalar("attention_scale", (float)(1 / Math.Sqrt(dh)));
        int i = 0;
        foreach (var block in p.Blocks)
        {
            string n = $"blocks.{i++}";
            var (q, k, v) = layers.Heads(n, block, x, splitShape);
            var kT = g.Node("Transpose", [k], $"{n}.k_t", OnnxGraphBuilder.Ints("perm", 0, 1, 3, 2));
            var scores = g.Node("Mul", [g.Node("MatMul", [q, kT], $"{n}.qk"), scale], $"{n}.scores");   // no mask: the whole prompt
            var weights = g.Node("Softmax", [scores], $"{n}.attention", OnnxGraphBuilder.Int("axis", -1));
            x = layers.Finish(n, block, x, g.Node("MatMul", [weights, v], $"{n}.attended_heads"), tokenShape);
        }
        var logits = layers.Linear("head", p.Head, layers.LayerNorm("final_norm", p.FinalNorm, x));   // [B·L, V]
        return g.Node("Reshape", [logits, g.Int64Initializer("shape_b_l_v", -1, l, p.Vocab)], OnnxContract.LogitsOutput);
    }

    /// <summary>Writes the model to a temporary file and renames it into place.</summary>
    internal static void Write(ModelProto model, string outputPath) => AtomicFile.Write(outputPath, model.WriteTo);
}
