using static TorchSharp.torch;

namespace GrpoPipeline.Training.Rollouts;

/// <summary>
/// One epoch's rollout of a policy kind: G responses per prompt sampled under no-grad (written to the trainer's
/// managed rows for the rewards), with everything the μ inner steps need. The trainer asks it only for the objective
/// of a step; how the log-probs of the responses are computed is the policy kind's business.
/// </summary>
interface IRollout
{
    /// <summary>Takes the responses' deltas [B, G], once, before the inner steps (in the epoch's dispose scope).</summary>
    void Prepare(Tensor deltas);

    /// <summary>
    /// The objective of one inner step under the current weights: a scalar whose backward gives the parameters'
    /// gradients, and the values the metrics log.
    /// </summary>
    StepResult Step(bool lastStep);

    /// <summary>The rollout's own metrics: for sequences their lengths and truncation.</summary>
    void AddMetrics(EpochMetrics metrics);
}

/// <summary>One inner step: what to backpropagate, and what to log (the clip shares and approx_kl at the last step only).</summary>
/// <param name="Backward">A scalar whose gradient w.r.t. the parameters is the objective's.</param>
/// <param name="PolicyLoss">The surrogate's value.</param>
/// <param name="Kl">The KL(π‖π_ref) estimate (0 without a reference).</param>
/// <param name="ClipLow">Share clipped below (last step only, else NaN).</param>
/// <param name="ClipHigh">Share clipped above (last step only, else NaN).</param>
/// <param name="ApproxKlOld">cleanrl's approx_kl against π_old (last step only, else NaN).</param>
/// <param name="ClipDual">Share bounded by the dual clip (last step with the dual clip on only, else NaN).</param>
readonly record struct StepResult(Tensor Backward, double PolicyLoss, double Kl, double ClipLow, double ClipHigh, double ApproxKlOld, double ClipDual);
