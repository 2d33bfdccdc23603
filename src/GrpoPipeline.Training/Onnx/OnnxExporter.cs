using System.Reflection;
using System.Text.Json;
using Google.Protobuf;
using GrpoPipeline.Core;
using GrpoPipeline.Training.Onnx.Proto;
using TorchSharp;
using static TorchSharp.torch;

namespace GrpoPipeline.Training.Onnx;

/// <summary>
/// Exports a trained policy to an ONNX file that follows <see cref="OnnxContract"/>: input <c>prompts</c> int64
/// [batch, L], outputs <c>logits</c> float32 [batch, L, V] and <c>response</c> int64 [batch, L] (greedy argmax).
/// Opset 17, IR 8, built from Gather/MatMul/Reshape (ORT's CPU Einsum is much slower than MatMul).
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
        if (shape.ResponseLength != shape.PromptLength)
            throw new NotSupportedException($"the {OnnxContract.Sorter.Version} contract answers with one token per prompt token; this policy has L={shape.PromptLength}, R={shape.ResponseLength}");
        var contract = OnnxContract.Sorter;
        var sizes = OnnxContract.SorterSizes(shape.PromptLength, shape.Vocab);
        var graph = new OnnxGraphBuilder($"grpo_{shape.Options.Kind.ToString().ToLowerInvariant()}_sorter");
        foreach (var input in contract.Inputs) graph.Graph.Input.Add(OnnxGraphBuilder.Value(input, sizes));

        using (no_grad())
        {
            string logits = policy switch
            {
                SeedPolicy seed => SeedGraph(graph, seed),
                TransformerSorterPolicy transformer => TransformerGraph(graph, transformer),
                _ => throw new NotSupportedException($"ONNX export of {policy.GetType().Name} is not implemented"),
            };
            if (logits != OnnxContract.LogitsOutput) throw new InvalidOperationException("policy graph must end in the logits output");
        }
        // Greedy response: first maximal index, as torch.argmax.
        graph.Node("ArgMax", [OnnxContract.LogitsOutput], OnnxContract.ResponseOutput,
            OnnxGraphBuilder.Int("axis", 2), OnnxGraphBuilder.Int("keepdims", 0), OnnxGraphBuilder.Int("select_last_index", 0));
        foreach (var output in contract.Outputs) graph.Graph.Output.Add(OnnxGraphBuilder.Value(output, sizes));

        var model = new ModelProto
        {
            IrVersion = OnnxContract.IrVersion,
            ProducerName = OnnxContract.ProducerName,
            ProducerVersion = ProducerVersion,
            Domain = "ai.grpopipeline",
            ModelVersion = epoch,
            DocString = "GRPO-trained sorter: prompts [batch, L] int64 → logits [batch, L, V] float32 and greedy response [batch, L] int64.",
            Graph = graph.Graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = OnnxContract.Opset });
        foreach (var (key, value) in Metadata(shape, config, epoch))
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return model;
    }

    /// <summary>
    /// This build's version without the source-control suffix (<c>0.2.0</c>, not <c>0.2.0+3f2a…</c>), so the same
    /// policy exports to the same bytes from any commit of one version.
    /// </summary>
    static string ProducerVersion =>
        (typeof(OnnxExporter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0").Split('+')[0];

    static IEnumerable<(string, string)> Metadata(PolicyShape shape, TrainConfig config, int epoch)
    {
        yield return (OnnxContract.Metadata.Contract, OnnxContract.Sorter.Version);
        yield return (OnnxContract.Metadata.Task, "sort");
        yield return (OnnxContract.Metadata.Policy, JsonNamingPolicy.SnakeCaseLower.ConvertName(shape.Options.Kind.ToString()));
        yield return (OnnxContract.Metadata.VocabSize, shape.Vocab.ToString());
        yield return (OnnxContract.Metadata.PromptLength, shape.PromptLength.ToString());
        yield return (OnnxContract.Metadata.ResponseLength, shape.ResponseLength.ToString());
        yield return (OnnxContract.Metadata.Run, config.RunName);
        yield return (OnnxContract.Metadata.Epoch, epoch.ToString());
        yield return (OnnxContract.Metadata.Config, config.ToJson());
        yield return (OnnxContract.Metadata.HeldOutSplit, JsonSerializer.Serialize(config.Task, TrainConfig.Json));
    }

    /// <summary>
    /// The lecture's model with its einsums as MatMuls on pre-reshaped weights:
    /// Gather(emb) → [B, L·D] · enc[L·D, D] → · dec[D, R·D] → [B, R, D] · embᵀ[D, V].
    /// </summary>
    static string SeedGraph(OnnxGraphBuilder g, SeedPolicy p)
    {
        int l = p.PromptLength, r = p.ResponseLength, d = p.Dim, v = p.Vocab;
        var embedding = g.Initializer("embedding.weight", Floats(p.EmbeddingWeight), v, d);
        var encode = g.Initializer("encode_weights", Floats(p.EncodeWeights.reshape(l * d, d)), l * d, d);
        var decode = g.Initializer("decode_weights", Floats(p.DecodeWeights.permute(1, 0, 2).reshape(d, r * d)), d, r * d);
        var unembed = g.Initializer("embedding.weight.T", Floats(p.EmbeddingWeight.t()), d, v);

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
        int l = p.Length, d = p.DModel, h = p.Heads, dh = d / h;
        var tokens = g.Node("Gather", [g.Initializer("token_embedding.weight", Floats(p.TokenEmbedding), p.Vocab, d), OnnxContract.PromptsInput],
            "token_embeddings", OnnxGraphBuilder.Int("axis", 0));
        var embedded = g.Node("Add", [tokens, g.Initializer("position_embedding", Floats(p.PositionEmbedding), l, d)], "x0");
        var tokenShape = g.Int64Initializer("shape_bl_d", -1, d);
        var x = g.Node("Reshape", [embedded, tokenShape], "x0_tokens");                            // [B·L, D]

        var splitShape = g.Int64Initializer("shape_b_l_3h_dh", -1, l, 3 * h, dh);
        var scale = g.FloatScalar("attention_scale", (float)(1 / Math.Sqrt(dh)));
        var sqrt2 = g.FloatScalar("sqrt2", (float)Math.Sqrt(2));
        var half = g.FloatScalar("half", 0.5f);
        var one = g.FloatScalar("one", 1f);

        int i = 0;
        foreach (var block in p.Blocks)
        {
            string n = $"blocks.{i++}";
            var qkv = Linear(g, $"{n}.qkv", block.Qkv, LayerNorm(g, $"{n}.attention_norm", block.AttentionNorm, x));
            var heads = g.Node("Transpose", [g.Node("Reshape", [qkv, splitShape], $"{n}.qkv_split")], $"{n}.qkv_heads",
                OnnxGraphBuilder.Ints("perm", 0, 2, 1, 3));                                      // [B, 3H, L, dh]
            string q = $"{n}.q", k = $"{n}.k", v = $"{n}.v";                                    // [B, H, L, dh] each
            g.Node("Split", [heads], [q, k, v], OnnxGraphBuilder.Int("axis", 1));
            var kT = g.Node("Transpose", [k], $"{n}.k_t", OnnxGraphBuilder.Ints("perm", 0, 1, 3, 2));
            var scores = g.Node("Mul", [g.Node("MatMul", [q, kT], $"{n}.qk"), scale], $"{n}.scores");
            var weights = g.Node("Softmax", [scores], $"{n}.attention", OnnxGraphBuilder.Int("axis", -1));
            var attended = g.Node("Transpose", [g.Node("MatMul", [weights, v], $"{n}.attended_heads")], $"{n}.attended_t",
                OnnxGraphBuilder.Ints("perm", 0, 2, 1, 3));                                      // [B, L, H, dh]
            var merged = g.Node("Reshape", [attended, tokenShape], $"{n}.attended");             // [B·L, D]
            x = g.Node("Add", [x, Linear(g, $"{n}.attention_out", block.AttentionOut, merged)], $"{n}.x_attention");

            var hidden = Linear(g, $"{n}.mlp_in", block.MlpIn, LayerNorm(g, $"{n}.mlp_norm", block.MlpNorm, x));
            var gate = g.Node("Add", [g.Node("Erf", [g.Node("Div", [hidden, sqrt2], $"{n}.gelu_scaled")], $"{n}.gelu_erf"), one], $"{n}.gelu_gate");
            var gelu = g.Node("Mul", [g.Node("Mul", [hidden, gate], $"{n}.gelu_gated"), half], $"{n}.gelu");
            x = g.Node("Add", [x, Linear(g, $"{n}.mlp_out", block.MlpOut, gelu)], $"{n}.x_mlp");
        }
        var logits = Linear(g, "head", p.Head, LayerNorm(g, "final_norm", p.FinalNorm, x));   // [B·L, V]
        return g.Node("Reshape", [logits, g.Int64Initializer("shape_b_l_v", -1, l, p.Vocab)], OnnxContract.LogitsOutput);
    }

    static string LayerNorm(OnnxGraphBuilder g, string name, TorchSharp.Modules.LayerNorm norm, string input)
    {
        long width = norm.weight!.shape[0];
        return g.Node("LayerNormalization",
            [input, g.Initializer($"{name}.weight", Floats(norm.weight!), width), g.Initializer($"{name}.bias", Floats(norm.bias!), width)],
            name, OnnxGraphBuilder.Int("axis", -1), OnnxGraphBuilder.Float("epsilon", 1e-5f));
    }

    /// <summary>y = x·Wᵀ + b on 2-D x, as one Gemm with Wᵀ stored pre-transposed.</summary>
    static string Linear(OnnxGraphBuilder g, string name, TorchSharp.Modules.Linear linear, string input)
    {
        long outputs = linear.weight!.shape[0], inputs = linear.weight!.shape[1];
        return g.Node("Gemm",
            [input, g.Initializer($"{name}.weight.T", Floats(linear.weight!.t()), inputs, outputs), g.Initializer($"{name}.bias", Floats(linear.bias!), outputs)],
            name);
    }

    static float[] Floats(Tensor t)
    {
        using var contiguous = t.detach().contiguous().to(ScalarType.Float32);
        return contiguous.data<float>().ToArray();
    }

    /// <summary>Writes the model to a temporary file and renames it into place.</summary>
    internal static void Write(ModelProto model, string outputPath) => AtomicFile.Write(outputPath, model.WriteTo);
}
