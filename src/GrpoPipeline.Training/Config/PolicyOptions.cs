using GrpoPipeline.Core;

namespace GrpoPipeline.Training;

/// <summary>Which policy network to train.</summary>
public enum PolicyKind
{
    /// <summary>The lecture's non-autoregressive model: per-position encode/decode matrices, tied embedding.</summary>
    Seed,
    /// <summary>A non-autoregressive pre-norm transformer encoder with a per-position head.</summary>
    Transformer,
    /// <summary>
    /// An autoregressive decoder-only transformer that answers token by token and ends with EOS: for variable-length
    /// tasks (and fixed lengths, with task.minLength = task.maxLength).
    /// </summary>
    Decoder,
}

/// <summary>Policy architecture and size.</summary>
public sealed record PolicyOptions
{
    /// <summary>Policy architecture. Default <c>seed</c>.</summary>
    public PolicyKind Kind { get; init; } = PolicyKind.Seed;
    /// <summary>Seed policy: embedding width D. Default 10 (the lecture's).</summary>
    public int EmbeddingDim { get; init; } = 10;
    /// <summary>Transformer and decoder: model width d_model. Default 64.</summary>
    public int DModel { get; init; } = 64;
    /// <summary>Transformer and decoder: attention heads; must divide d_model. Default 4.</summary>
    public int Heads { get; init; } = 4;
    /// <summary>Transformer and decoder: blocks. Default 2.</summary>
    public int Layers { get; init; } = 2;
    /// <summary>Transformer and decoder: hidden width of each block's MLP. Default 256.</summary>
    public int MlpDim { get; init; } = 256;
    /// <summary>Transformer and decoder: dropout while optimizing (always off during rollouts and evaluation). Default 0.</summary>
    public double Dropout { get; init; }
    /// <summary>
    /// Decoder: where position indices start, <c>from_prompt_start</c> (default), <c>from_sep</c> (SEP at the same
    /// position for every prompt length) or <c>mirrored</c> (counted from SEP and folded around it), see
    /// <see cref="DecoderPositions"/>. Written only when not the default,
    /// so configs, checkpoints and models of default decoders read as before.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public DecoderPositions Positions { get; init; }

    /// <summary>
    /// Throws <see cref="ConfigException"/> naming the first bad <c>policy.*</c> key; the transformer and decoder
    /// settings are checked only for those kinds.
    /// </summary>
    public void Validate()
    {
        ConfigException.Require(Enum.IsDefined(Kind), "policy.kind", Kind, "seed, transformer, decoder");
        ConfigException.Require(Positions == DecoderPositions.FromPromptStart || Kind == PolicyKind.Decoder, "policy.positions", Positions, "from_prompt_start unless policy.kind = decoder");
        ConfigException.Require(EmbeddingDim is >= 1 and <= 4096, "policy.embeddingDim", EmbeddingDim, "1..4096");
        if (Kind == PolicyKind.Seed) return;
        ConfigException.Require(DModel is >= 4 and <= 4096, "policy.dModel", DModel, "4..4096");
        ConfigException.Require(Heads >= 1 && DModel % Heads == 0, "policy.heads", Heads, $"a divisor of dModel ({DModel})");
        ConfigException.Require(Layers is >= 1 and <= 64, "policy.layers", Layers, "1..64");
        ConfigException.Require(MlpDim is >= 1 and <= 65536, "policy.mlpDim", MlpDim, "1..65536");
        ConfigException.Require(Dropout is >= 0 and < 1, "policy.dropout", Dropout, "0 ≤ dropout < 1");
    }
}

/// <summary>
/// The shape that, with <see cref="PolicyOptions"/>, rebuilds a policy with no other input: the (longest) prompt
/// length, the (longest) response length — L for a factorised policy, maxLength + 1 with EOS for a decoder — and V.
/// </summary>
public sealed record PolicyShape(PolicyOptions Options, int PromptLength, int ResponseLength, int Vocab);

/// <summary>Where a decoder's position indices start (<c>policy.positions</c>).</summary>
public enum DecoderPositions
{
    /// <summary>0 at each row's first prompt token: SEP sits at position n for a prompt of n tokens (the default).</summary>
    FromPromptStart,
    /// <summary>
    /// Counted back from SEP: SEP sits at position maxLength for every prompt, prompt token i of n at maxLength − n + i,
    /// response token j at maxLength + 1 + j — the column of a block left-padded to maxLength. Reversal then pairs
    /// response input j with prompt column maxLength − 1 − j whatever n is, a map learned position embeddings can hold.
    /// </summary>
    FromSep,
    /// <summary>
    /// Counted from SEP as <see cref="FromSep"/>, then folded around it: the prompt token j places before SEP and the
    /// response input j places after it (SEP is input 0) read the same embedding row j, and every token from SEP on adds
    /// the last row (2·maxLength + 1), a "response side" vector. Reversal pairs response input j with prompt token j
    /// before SEP: one "same row, other side" attention pattern for every j, where <see cref="FromSep"/> learns one
    /// pair of rows per j.
    /// </summary>
    Mirrored,
}
