using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace GrpoPipeline.Training.Policies;

/// <summary>
/// One pre-norm transformer block: x + Attention(LN(x)), then x + MLP(LN(x)). The sorter runs it without a mask (every
/// position sees the whole prompt); the decoder with a causal, padding-aware mask and, when decoding, a KV cache.
/// </summary>
public sealed class TransformerBlock : nn.Module<Tensor, Tensor>
{
    readonly LayerNorm attention_norm;
    readonly Linear qkv;
    readonly Linear attention_out;
    readonly LayerNorm mlp_norm;
    readonly Linear mlp_in;
    readonly Linear mlp_out;
    readonly Dropout dropout;

    /// <summary>A freshly initialised block, its weights drawn from torch's global generator.</summary>
    /// <param name="dModel">Model width d.</param>
    /// <param name="heads">Attention heads; must divide <paramref name="dModel"/>.</param>
    /// <param name="mlpDim">Hidden width of the MLP.</param>
    /// <param name="dropoutRate">
    /// Dropout rate on the attention and MLP outputs before each residual add (in training mode only).
    /// </param>
    public TransformerBlock(int dModel, int heads, int mlpDim, double dropoutRate) : base(nameof(TransformerBlock))
    {
        (DModel, Heads) = (dModel, heads);
        attention_norm = nn.LayerNorm(dModel);
        qkv = nn.Linear(dModel, 3 * dModel);
        attention_out = nn.Linear(dModel, dModel);
        mlp_norm = nn.LayerNorm(dModel);
        mlp_in = nn.Linear(dModel, mlpDim);
        mlp_out = nn.Linear(mlpDim, dModel);
        dropout = nn.Dropout(dropoutRate);
        RegisterComponents();
    }

    /// <summary>Model width d.</summary>
    public int DModel { get; }
    /// <summary>Attention heads H, each of width d/H.</summary>
    public int Heads { get; }
    /// <summary>The LayerNorm before attention.</summary>
    public LayerNorm AttentionNorm => attention_norm;
    /// <summary>
    /// The joint projection d → 3d: queries, keys and values, in that order, each split into H heads of d/H.
    /// </summary>
    public Linear Qkv => qkv;
    /// <summary>The projection of the heads' concatenated outputs, d → d.</summary>
    public Linear AttentionOut => attention_out;
    /// <summary>The LayerNorm before the MLP.</summary>
    public LayerNorm MlpNorm => mlp_norm;
    /// <summary>The MLP's first layer, d → mlpDim, followed by GELU.</summary>
    public Linear MlpIn => mlp_in;
    /// <summary>The MLP's second layer, mlpDim → d.</summary>
    public Linear MlpOut => mlp_out;

    /// <summary>Every position attends to every position (the sorter's encoder).</summary>
    public override Tensor forward(Tensor x) => Forward(x, null, null, 0);

    /// <summary>
    /// The block on <paramref name="x"/> [N, T, d]. <paramref name="mask"/> [N, 1, T, S] says which of the S keys each
    /// query may attend to (true = attend; null = all). With <paramref name="cache"/>, the T new keys and values are
    /// written into its columns <c>offset .. offset+T−1</c> and the queries attend to its first <c>offset+T</c>
    /// columns, so a decode step costs one new column, not the whole prefix.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor? mask, LayerCache? cache, long offset)
    {
        using var scope = NewDisposeScope();
        var (queries, keys, values) = Project(x);
        if (cache is not null)
        {
            long length = x.shape[1];
            cache.Keys.narrow(2, offset, length).copy_(keys);
            cache.Values.narrow(2, offset, length).copy_(values);
            keys = cache.Keys.narrow(2, 0, offset + length);
            values = cache.Values.narrow(2, 0, offset + length);
        }
        return Finish(x, scaled_dot_product_attention(queries, keys, values, mask, 0, false)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The block on a prefix shared by groups of rows: <paramref name="prefix"/> [B, P, d] once per prompt, and
    /// <paramref name="rows"/> [B·G, T, d] (G rows per prompt) that attend to their prompt's prefix keys and values and to
    /// their own. <paramref name="prefixMask"/> is [B, 1, P, P], <paramref name="rowMask"/> [B·G, 1, T, P+T]. Equal to
    /// running every row's prefix and tokens through <see cref="Forward"/>, with the prefix computed once; gradients
    /// flow through the shared prefix.
    /// </summary>
    public (Tensor Prefix, Tensor Rows) ForwardShared(Tensor prefix, Tensor rows, Tensor prefixMask, Tensor rowMask, int group)
    {
        using var scope = NewDisposeScope();
        var (qp, kp, vp) = Project(prefix);
        var (qr, kr, vr) = Project(rows);
        var sharedPrefix = Finish(prefix, scaled_dot_product_attention(qp, kp, vp, prefixMask, 0, false));
        var keys = cat([kp.repeat_interleave(group, 0), kr], 2);
        var values = cat([vp.repeat_interleave(group, 0), vr], 2);
        var ownRows = Finish(rows, scaled_dot_product_attention(qr, keys, values, rowMask, 0, false));
        return (sharedPrefix.MoveToOuterDisposeScope(), ownRows.MoveToOuterDisposeScope());
    }

    /// <summary>Queries, keys and values [N, H, T, d/H] of <paramref name="x"/> [N, T, d], from one projection.</summary>
    (Tensor Queries, Tensor Keys, Tensor Values) Project(Tensor x)
    {
        long rows = x.shape[0], length = x.shape[1], headDim = DModel / Heads;
        var parts = qkv.forward(attention_norm.forward(x)).view(rows, length, 3, Heads, headDim).permute(2, 0, 3, 1, 4);
        return (parts[0], parts[1], parts[2]);
    }

    /// <summary>The residual attention output, then the residual MLP.</summary>
    Tensor Finish(Tensor x, Tensor attended)
    {
        long rows = x.shape[0], length = x.shape[1];
        x = x.add(dropout.forward(attention_out.forward(attended.transpose(1, 2).reshape(rows, length, DModel))), Scalars.One);
        return x.add(dropout.forward(mlp_out.forward(gelu(mlp_in.forward(mlp_norm.forward(x))))), Scalars.One);
    }
}
