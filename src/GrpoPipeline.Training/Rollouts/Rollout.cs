using GrpoPipeline.Core;
using GrpoPipeline.Training.Policies;
using static TorchSharp.torch;

namespace GrpoPipeline.Training.Rollouts;

/// <summary>
/// One epoch's rollout as the μ inner steps see it: the responses laid out by their policy kind (with π_old's log-probs),
/// their deltas, π_ref's log-probs, and, for responses drawn with older weights, the truncated importance weights.
/// <see cref="Build"/> is the one place a rollout is made; <see cref="Step"/> gives one inner step's objective.
/// </summary>
/// <remarks>
/// The objective is the loss's definition, <see cref="GrpoLoss.Compute"/>, on the per-token log-probs with the response
/// mask. A factorised batch takes the fast path instead (<see cref="FactorisedFastPath"/>, on [B, L, V]) for the settings
/// it supports, which a test holds equal to the definition.
/// </remarks>
sealed class Rollout
{
    readonly TrainingState _state;
    readonly ResponseBatch _batch;
    readonly Tensor _deltas, _mask;          // [N], [N, T]
    readonly Tensor? _weights;               // [N, T]
    readonly ResponseLogProbs? _reference;
    readonly TokenLoss _loss;
    readonly TokenStatistics? _statistics;   // the fast path's

    Rollout(TrainingState state, ResponseBatch batch, Tensor deltas, Tensor? weights)
    {
        var grpo = state.Config.Grpo;
        (_state, _batch, _deltas, _weights) = (state, batch, deltas.reshape(-1), weights);
        _loss = grpo.TokenLoss(state.Task.MaxResponseLength, state.EntropyCoef);
        _mask = grpo.MaskTruncated && batch.Truncated is { } truncated ? batch.Mask * truncated.logical_not().unsqueeze(1) : batch.Mask;
        if (state.Reference is { } reference)
        {
            using var _ = no_grad();
            _reference = batch.LogProbs(reference, grpo.Temperature);
        }
        if (batch.Factorised is { } f && FactorisedFastPath.Supports(_loss, f.Samples.shape[1]))
        {
            long prompts = f.Samples.shape[0], length = f.Samples.shape[1], group = f.Samples.shape[2];
            _statistics = TokenStatistics.Aggregate(f.Samples, deltas, f.Vocab, weights?.view(prompts, group, length).permute(0, 2, 1));
        }
    }

    /// <summary>
    /// The rollout of <paramref name="batch"/> with its <paramref name="deltas"/> [B, G]. A batch drawn with the current
    /// weights and kept whole trains on its own draw (π_old is the sampling pass); any other — kept by dynamic sampling,
    /// or drawn by the overlapped sampler — is replayed: π_old from one pass of the current policy, and, with the
    /// behaviour log-probs, each token's loss weighted by min(π_old/π_behaviour, C) (<see cref="ImportanceWeights"/>).
    /// </summary>
    public static Rollout Build(TrainingState state, SampledBatch batch, Tensor deltas, EpochMetrics metrics)
    {
        var grpo = state.Config.Grpo;
        var responses = batch.Draw ?? state.Policy.Replay(batch.Prompts, batch.Responses, grpo.GroupSize, grpo.Temperature, state.Task.MaxResponseLength);
        Tensor? weights = null;
        if (batch.BehaviourLogp is { } behaviourRows)
        {
            using var _ = no_grad();
            long rows = responses.Logp.shape[0], steps = responses.Logp.shape[1];
            var behaviour = tensor(behaviourRows, [rows, behaviourRows.Length / rows]).narrow(1, 0, steps);
            weights = ImportanceWeights.Truncated(responses.Logp, behaviour, responses.Mask, grpo.Overlap!.IsTruncation, metrics);
        }
        return new Rollout(state, responses, deltas, weights);
    }

    GrpoOptions Grpo => _state.Config.Grpo;

    /// <summary>
    /// The objective of one inner step under the current weights: a scalar whose backward gives the parameters'
    /// gradients, and the values the metrics log.
    /// </summary>
    public StepResult Step(bool lastStep)
    {
        var current = _batch.LogProbs(_state.Policy, Grpo.Temperature);
        bool exact = _loss.Estimator == KlEstimator.Exact && _reference is not null;
        var o = _statistics is not null
            ? FactorisedFastPath.Objective(current.Factorised!, _batch.Factorised!.LogProbs, _reference?.Factorised, _statistics, _loss)
            : GrpoLoss.Compute(new LossInputs(current.Logp, _batch.Logp, _deltas, _mask)
            {
                RefLogp = _reference?.Logp,
                LogProbs = exact ? current.Distributions() : null,
                RefLogProbs = exact ? _reference!.Distributions() : null,
                Entropy = _loss.EntropyCoef > 0 ? current.TokenEntropy() : null,
                Weights = _weights,
            }, _loss);
        return new StepResult(o.Loss, o.PolicyLoss.item<float>(), o.Kl.item<float>(),
            lastStep ? o.ClipLow.item<float>() : double.NaN, lastStep ? o.ClipHigh.item<float>() : double.NaN,
            lastStep ? o.ApproxKlOld.item<float>() : double.NaN, lastStep && _loss.DualClip is not null ? o.ClipDual.item<float>() : double.NaN);
    }

    /// <summary>The batch's own metrics: for variable-length responses their lengths and truncation.</summary>
    public void AddMetrics(EpochMetrics metrics) => _batch.AddMetrics(metrics);
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
