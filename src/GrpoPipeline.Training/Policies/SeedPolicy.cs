using GrpoPipeline.Core;
using GrpoPipeline.Training.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GrpoPipeline.Training.Policies;

/// <summary>
/// The lecture's non-autoregressive sorter: an embedding, per-position encode weights [L,D,D] and decode weights
/// [R,D,D] (both randn/√D), and logits from the tied embedding. Maps prompts [B,L] to logits [B,R,V].
/// </summary>
/// <remarks>Field names are checkpoint keys: renaming one breaks old checkpoints.</remarks>
public sealed class SeedPolicy : FactorisedPolicy
{
    readonly Embedding embedding;
    readonly Parameter encode_weights;
    readonly Parameter decode_weights;

    /// <summary>
    /// A freshly initialised seed policy, its weights drawn from torch's global generator; the encode and decode
    /// weights are divided by √D.
    /// </summary>
    /// <param name="vocab">V: the values are 0..V−1.</param>
    /// <param name="dim">Embedding width D.</param>
    /// <param name="promptLength">L: prompt positions, one encode matrix each.</param>
    /// <param name="responseLength">R: response positions, one decode matrix each.</param>
    public SeedPolicy(int vocab, int dim, int promptLength, int responseLength) : base(nameof(SeedPolicy))
    {
        (Vocab, Dim, PromptLength, ResponseLength) = (vocab, dim, promptLength, responseLength);
        embedding = nn.Embedding(vocab, dim);
        using var s = new ScalarScope();
        encode_weights = new Parameter(randn(promptLength, dim, dim).div_(s[Math.Sqrt(dim)]));
        decode_weights = new Parameter(randn(responseLength, dim, dim).div_(s[Math.Sqrt(dim)]));
        RegisterComponents();
    }

    /// <summary>V: the values are 0..V−1.</summary>
    public int Vocab { get; }
    /// <summary>Embedding width D.</summary>
    public int Dim { get; }
    /// <summary>L: prompt positions.</summary>
    public int PromptLength { get; }
    /// <summary>R: response positions.</summary>
    public int ResponseLength { get; }

    /// <summary>Tied token embedding [V, D].</summary>
    public Tensor EmbeddingWeight => embedding.weight!;
    /// <summary>Encode weights [L, D, D].</summary>
    public Tensor EncodeWeights => encode_weights;
    /// <summary>Decode weights [R, D, D].</summary>
    public Tensor DecodeWeights => decode_weights;

    /// <summary>
    /// The lecture's model with its einsums as MatMuls on pre-reshaped weights:
    /// Gather(emb) → [B, L·D] · enc[L·D, D] → · dec[D, R·D] → [B, R, D] · embᵀ[D, V].
    /// </summary>
    internal override string WriteLogits(OnnxGraphBuilder g)
    {
        var p = this;
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
    /// Logits [B, R, V] of prompts [B, L]: the prompt is encoded into one vector [B, D], decoded into one per response
    /// position, and scored against the tied embedding.
    /// </summary>
    public override Tensor forward(Tensor prompts)
    {
        using var scope = NewDisposeScope();
        long batch = prompts.shape[0];
        var emb = embedding.forward(prompts);                                   // [B, L, D]
        // Σ_pos emb[b,pos,:]·enc[pos] is one matmul over the flattened (pos, dim1) axis.
        var encoded = emb.reshape(batch, PromptLength * Dim)
            .matmul(encode_weights.reshape(PromptLength * Dim, Dim));           // [B, D]
        // decoded[b,r,:] = encoded[b]·dec[r]: lay dec out as [D, R·D] and do one matmul.
        var decoded = encoded.matmul(decode_weights.permute(1, 0, 2).reshape(Dim, ResponseLength * Dim))
            .view(batch, ResponseLength, Dim);                                  // [B, R, D]
        return decoded.matmul(embedding.weight!.t()).MoveToOuterDisposeScope(); // [B, R, V], tied embedding
    }
}
