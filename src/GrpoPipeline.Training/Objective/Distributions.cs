using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace GrpoPipeline.Training;

/// <summary>
/// The pure math of GRPO that is not the loss itself: tensors in, fresh tensors out, no model. This part holds the
/// policy's next-token distributions — log-probs at a temperature, their entropy, and the entropy controller; the
/// group baselines are in <c>Deltas.cs</c>, the loss in <see cref="GrpoLoss"/>.
/// </summary>
public static partial class GrpoMath
{
    /// <summary>log softmax(logits / T) over the last dimension: the distribution that is sampled is the one that is trained.</summary>
    public static Tensor LogProbs(Tensor logits, double temperature)
    {
        if (temperature == 1) return log_softmax(logits, -1);
        using var s = new ScalarScope();
        return log_softmax(logits.div(s[temperature]), -1);
    }

    /// <summary>Per-position entropy −Σ_v π(v) log π(v) of distributions given as log-probs [..., V]: [...].</summary>
    public static Tensor TokenEntropy(Tensor logProbs) => -(logProbs.exp() * logProbs).sum(-1);

    /// <summary>Mean per-position entropy of distributions given as log-probs [B, L, V].</summary>
    public static Tensor Entropy(Tensor logProbs)
    {
        using var scope = NewDisposeScope();
        return TokenEntropy(logProbs).mean().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The adaptive entropy controller's next coefficient: up by <paramref name="step"/> when <paramref name="entropy"/>
    /// is below <paramref name="target"/>, down by it when above, kept within [0, <paramref name="max"/>] (Skywork-OR1's
    /// adaptive entropy control, He et al. 2025).
    /// </summary>
    public static double NextEntropyCoef(double coef, double entropy, double target, double step, double max) =>
        Math.Clamp(entropy < target ? coef + step : entropy > target ? coef - step : coef, 0, max);
}
