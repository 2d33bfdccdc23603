using GrpoPipeline.Training.Onnx;
using GrpoPipeline.Training.Onnx.Proto;
using static TorchSharp.torch;

namespace GrpoPipeline.Training.Policies;

/// <summary>
/// The graph pieces the transformer sorter and the decoder share, written once: LayerNormalization, a Linear as one
/// Gemm on 2-D token activations, the heads of a block's fused q/k/v projection, and the residual GELU MLP in the form
/// ONNX Runtime fuses (x · (erf(x / √2) + 1) · ½).
/// </summary>
sealed class OnnxLayers(OnnxGraphBuilder g)
{
    readonly string _sqrt2 = g.FloatScalar("sqrt2", (float)Math.Sqrt(2));
    readonly string _half = g.FloatScalar("half", 0.5f);
    readonly string _one = g.FloatScalar("one", 1f);

    public OnnxGraphBuilder Graph => g;

    public string LayerNorm(string name, TorchSharp.Modules.LayerNorm norm, string input)
    {
        long width = norm.weight!.shape[0];
        return g.Node("LayerNormalization",
            [input, g.Initializer($"{name}.weight", Floats(norm.weight!), width), g.Initializer($"{name}.bias", Floats(norm.bias!), width)],
            name, OnnxGraphBuilder.Int("axis", -1), OnnxGraphBuilder.Float("epsilon", 1e-5f));
    }

    /// <summary>y = x·Wᵀ + b on 2-D x, as one Gemm with Wᵀ stored pre-transposed.</summary>
    public string Linear(string name, TorchSharp.Modules.Linear linear, string input)
    {
        long outputs = linear.weight!.shape[0], inputs = linear.weight!.shape[1];
        return g.Node("Gemm",
            [input, g.Initializer($"{name}.weight.T", Floats(linear.weight!.t()), inputs, outputs), g.Initializer($"{name}.bias", Floats(linear.bias!), outputs)],
            name);
    }

    /// <summary>
    /// The queries, keys and values [B, H, S, dh] of block <paramref name="n"/> on 2-D activations
    /// <paramref name="x"/> [B·S, d]; <paramref name="splitShape"/> reshapes the projection to [B, S, 3H, dh].
    /// </summary>
    public (string Q, string K, string V) Heads(string n, TransformerBlock block, string x, string splitShape)
    {
        var qkv = Linear($"{n}.qkv", block.Qkv, LayerNorm($"{n}.attention_norm", block.AttentionNorm, x));
        var heads = g.Node("Transpose", [g.Node("Reshape", [qkv, splitShape], $"{n}.qkv_split")], $"{n}.qkv_heads",
            OnnxGraphBuilder.Ints("perm", 0, 2, 1, 3));                                          // [B, 3H, S, dh]
        string q = $"{n}.q", k = $"{n}.k", v = $"{n}.v";                                        // [B, H, S, dh] each
        g.Node("Split", [heads], [q, k, v], OnnxGraphBuilder.Int("axis", 1));
        return (q, k, v);
    }

    /// <summary>Attention output [B, H, S, dh] merged to [B·S, d], projected, added to <paramref name="x"/>; then the residual MLP.</summary>
    public string Finish(string n, TransformerBlock block, string x, string attendedHeads, string tokenShape)
    {
        var attended = g.Node("Transpose", [attendedHeads], $"{n}.attended_t", OnnxGraphBuilder.Ints("perm", 0, 2, 1, 3));   // [B, S, H, dh]
        var merged = g.Node("Reshape", [attended, tokenShape], $"{n}.attended");                                          // [B·S, d]
        x = g.Node("Add", [x, Linear($"{n}.attention_out", block.AttentionOut, merged)], $"{n}.x_attention");
        var hidden = Linear($"{n}.mlp_in", block.MlpIn, LayerNorm($"{n}.mlp_norm", block.MlpNorm, x));
        var gate = g.Node("Add", [g.Node("Erf", [g.Node("Div", [hidden, _sqrt2], $"{n}.gelu_scaled")], $"{n}.gelu_erf"), _one], $"{n}.gelu_gate");
        var gelu = g.Node("Mul", [g.Node("Mul", [hidden, gate], $"{n}.gelu_gated"), _half], $"{n}.gelu");
        return g.Node("Add", [x, Linear($"{n}.mlp_out", block.MlpOut, gelu)], $"{n}.x_mlp");
    }

    public static float[] Floats(Tensor t)
    {
        using var contiguous = t.detach().contiguous().to(ScalarType.Float32);
        return contiguous.data<float>().ToArray();
    }
}
