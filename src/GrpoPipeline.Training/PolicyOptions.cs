using GrpoPipeline.Core;

namespace GrpoPipeline.Training;

/// <summary>Which policy network to train.</summary>
public enum PolicyKind
{
    /// <summary>The lecture's non-autoregressive model: per-position encode/decode matrices, tied embedding.</summary>
    Seed,
}

/// <summary>Policy architecture and size.</summary>
public sealed record PolicyOptions
{
    /// <summary>Policy architecture. Default <c>seed</c>.</summary>
    public PolicyKind Kind { get; init; } = PolicyKind.Seed;
    /// <summary>Embedding width D. Default 10 (the lecture's).</summary>
    public int EmbeddingDim { get; init; } = 10;

    public void Validate()
    {
        ConfigException.Require(Enum.IsDefined(Kind), "policy.kind", Kind, "seed");
        ConfigException.Require(EmbeddingDim is >= 1 and <= 4096, "policy.embeddingDim", EmbeddingDim, "1..4096");
    }
}
