using GrpoPipeline.Core;
using GrpoPipeline.Training.Decoding;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace GrpoPipeline.Training.Rollouts;

/// <summary>
/// The rollout of an autoregressive policy: the state is the prompt plus the tokens generated so far, so a response's
/// log-prob is only known token by token. G responses per prompt are decoded with the KV cache (all B·G rows in one
/// batch); log π_old of each sampled token is kept from the decode, log π_ref comes from one teacher-forced pass of the
/// frozen reference, and every inner step recomputes log π by one teacher-forced pass and takes the per-token path
/// (<see cref="GrpoMath.SequenceLoss"/>) with the response mask.
/// </summary>
sealed class SequenceRollout : IRollout
{
    readonly TrainingState _state;
    readonly DecodedResponses _decoded;
    readonly Tensor _prompts, _responseInputs, _mask;
    readonly int _group;
    readonly Tensor? _refLogp, _refLogProbs;
    readonly TokenLoss _loss;

    /// <summary>Decodes G responses per prompt; writes them without EOS into <paramref name="responses"/>.</summary>
    public SequenceRollout(TrainingState state, TokenRows prompts, int maxResponseLength, TokenRows responses, bool kvCache = true)
    {
        _state = state;
        var grpo = state.Config.Grpo;
        _loss = grpo.TokenLoss(maxResponseLength);
        _decoded = ResponseDecoder.Decode(Decoder, prompts, grpo.GroupSize, maxResponseLength, grpo.Temperature, state.ResponseGenerator, responses, kvCache);
        // The prompt block once per prompt (the decode repeated it G times), and the response tokens but the last.
        _group = grpo.GroupSize;
        _prompts = ResponseDecoder.PromptBlock(prompts, state.Config.Task.Special);
        _responseInputs = _decoded.Tokens.narrow(1, 0, _decoded.Steps - 1);
        _mask = grpo.MaskTruncated ? _decoded.Mask * _decoded.Truncated.logical_not().unsqueeze(1) : _decoded.Mask;
        if (state.Reference is { } reference)
        {
            using var _ = no_grad();
            var refLogProbs = LogProbs(reference);
            _refLogp = refLogProbs.gather(2, _decoded.Targets.unsqueeze(2)).squeeze(2);
            if (grpo.KlEstimator == KlEstimator.Exact) _refLogProbs = refLogProbs;
        }
    }

    DecoderPolicy Decoder => (DecoderPolicy)_state.Policy;

    Tensor? _advantages;

    public void Prepare(Tensor deltas) => _advantages = deltas.reshape(-1);

    public StepResult Step(bool lastStep)
    {
        var logProbs = LogProbs(_state.Policy);                                                 // [N, R, V+1]
        var logp = logProbs.gather(2, _decoded.Targets.unsqueeze(2)).squeeze(2);               // [N, R]
        var o = GrpoMath.SequenceLoss(logp, _decoded.LogProbs, _advantages ?? throw new InvalidOperationException("Prepare first"), _mask, _loss, _refLogp,
            _refLogProbs is null ? null : logProbs, _refLogProbs);
        return FactorisedRollout.Result(o, lastStep);
    }

    public void AddMetrics(EpochMetrics metrics)
    {
        metrics.Add(MetricKeys.PolicyEntropy, _decoded.Entropy);
        // Lengths in tokens, EOS included: what the policy generated.
        var lengths = _decoded.Mask.sum(1);
        metrics.Add(MetricKeys.ResponseLengthMean, lengths.mean().item<float>());
        metrics.Add(MetricKeys.ResponseLengthMin, lengths.min().item<float>());
        metrics.Add(MetricKeys.ResponseLengthMax, lengths.max().item<float>());
        metrics.Add(MetricKeys.ResponseTruncated, _decoded.Truncated.to(ScalarType.Float32).mean().item<float>());
    }

    /// <summary>
    /// Teacher-forced log softmax(logits / T) [N, R, V+1] at the positions that predict the response tokens, each
    /// prompt computed once for its G responses.
    /// </summary>
    Tensor LogProbs(nn.Module<Tensor, Tensor> policy)
    {
        var logits = ((DecoderPolicy)policy).ForwardResponses(_prompts, _group, _responseInputs);
        double temperature = _state.Config.Grpo.Temperature;
        return log_softmax(temperature == 1 ? logits : logits / temperature, -1);
    }
}
