using TorchSharp;
using static TorchSharp.torch;

namespace GrpoPipeline.Training.Policies;

/// <summary>
/// Builds policies from their options and shape. A factorised policy maps prompts [B, L] to logits [B, L, V]; a decoder
/// maps token sequences [N, T] to next-token logits by token id [N, T, V+2].
/// </summary>
public static class PolicyFactory
{
    /// <summary>Builds a freshly initialised policy (weights drawn from torch's global generator).</summary>
    public static GrpoPolicy Create(PolicyShape shape) => shape.Options.Kind switch
    {
        PolicyKind.Seed => new SeedPolicy(shape.Vocab, shape.Options.EmbeddingDim, shape.PromptLength, shape.ResponseLength),
        PolicyKind.Transformer => new FactorisedTransformerPolicy(shape.Vocab, shape.PromptLength, shape.Options.DModel,
            shape.Options.Heads, shape.Options.Layers, shape.Options.MlpDim, shape.Options.Dropout),
        PolicyKind.Decoder => new DecoderPolicy(shape.Vocab, shape.PromptLength, shape.Options.DModel,
            shape.Options.Heads, shape.Options.Layers, shape.Options.MlpDim, shape.Options.Dropout, shape.Options.Positions),
        _ => throw new ArgumentOutOfRangeException(nameof(shape), shape.Options.Kind, "unknown policy kind"),
    };

    /// <summary>A frozen copy of <paramref name="policy"/>: same weights, no gradients, eval mode.</summary>
    public static GrpoPolicy FrozenCopy(GrpoPolicy policy, PolicyShape shape)
    {
        var copy = Create(shape);
        CopyWeights(policy, copy);
        foreach (var p in copy.parameters()) p.requires_grad = false;
        copy.eval();
        return copy;
    }

    /// <summary>Copies every parameter and buffer of <paramref name="source"/> into <paramref name="target"/>.</summary>
    public static void CopyWeights(GrpoPolicy source, GrpoPolicy target) => MixWeights(source, target, 1);

    /// <summary>
    /// target ← α·source + (1−α)·target for every floating-point parameter and buffer (TR-DPO's soft update of the
    /// reference, Gorbatovski et al. 2024); α = 1 is a copy, and integer buffers are always copied.
    /// </summary>
    public static void MixWeights(GrpoPolicy source, GrpoPolicy target, double alpha)
    {
        using var _ = no_grad();
        using var s = new ScalarScope();
        Scalar keep = s[1 - alpha], take = s[alpha];
        var from = source.state_dict();
        foreach (var (name, tensor) in target.state_dict())
        {
            if (alpha == 1 || !tensor.is_floating_point()) tensor.copy_(from[name]);
            else tensor.mul_(keep).add_(from[name], alpha: take);
        }
    }
}
