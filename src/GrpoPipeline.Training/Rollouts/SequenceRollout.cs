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
/// (<see cref="GrpoLoss.Compute"/>) with the response mask.
/// </summary>
sealed class SequenceRollout : IRollout
{
    readonly TrainingState _state;
    readonly DecodedResponses _decoded;
    readonly Tensor _prompts, _responseInputs, _mask;
    readonly int _group;
    readonly Tensor? _refLogp, _refLogProbs, _isWeights;
    readonly TokenLoss _loss;

    SequenceRollout(TrainingState state, TokenRows prompts, DecodedResponses decoded, Tensor? isWeights)
    {
        _state = state;
        var grpo = state.Config.Grpo;
        _loss = grpo.TokenLoss(state.Task.MaxResponseLength, state.EntropyCoef);
        _decoded = decoded;
        _isWeights = isWeights;
        // The prompt block once per prompt (the decode repeated it G times), and the response tokens but the last.
        _group = grpo.GroupSize;
        _prompts = ResponseDecoder.PromptBlock(prompts, state.Task.Special);
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

    /// <summary>
    /// Decodes G responses per prompt with <paramref name="policy"/> and <paramref name="generator"/>; writes them
    /// without EOS into <paramref name="responses"/>. Given <paramref name="logProbs"/> — a draw by the overlapped
    /// sampler's copy of the weights — it writes each response token's log-prob (EOS included) there, in rows of
    /// maxLength + 1, and returns null: the learner replays them. Otherwise it returns the rollout. Either way it gives
    /// the mean entropy of the next-token distributions over the response tokens.
    /// </summary>
    public static (SequenceRollout? Rollout, double Entropy) Sample(TrainingState state, DecoderPolicy policy, Generator generator, TokenRows prompts, TokenRows responses,
        float[]? logProbs = null, bool kvCache = true)
    {
        var grpo = state.Config.Grpo;
        int maxResponseLength = state.Task.MaxResponseLength;
        var decoded = ResponseDecoder.Decode(policy, prompts, grpo.GroupSize, maxResponseLength, grpo.Temperature, generator, responses, kvCache);
        if (logProbs is null) return (new SequenceRollout(state, prompts, decoded, null), decoded.Entropy);
        // Rows of the decode's R steps into rows of maxResponseLength.
        var values = decoded.LogProbs.contiguous().data<float>().ToArray();
        int rows = (int)decoded.Tokens.shape[0], steps = (int)decoded.Steps;
        Array.Clear(logProbs, 0, rows * maxResponseLength);
        for (int r = 0; r < rows; r++) Array.Copy(values, r * steps, logProbs, r * maxResponseLength, steps);
        return (null, decoded.Entropy);
    }

    /// <summary>
    /// The rollout of responses decoded elsewhere — kept by dynamic sampling, or drawn by the overlapped sampler with
    /// older weights: π_old is recomputed by one teacher-forced pass of the current policy. With
    /// <paramref name="behaviourLogp"/> (the sampler's log-probs, rows of maxLength + 1) each token's loss is weighted
    /// by min(π_old/π_behaviour, C).
    /// </summary>
    public static SequenceRollout Replay(TrainingState state, TokenRows prompts, TokenRows responses, float[]? behaviourLogp, EpochMetrics metrics)
    {
        var grpo = state.Config.Grpo;
        int maxResponseLength = state.Task.MaxResponseLength;
        var decoded = ResponseDecoder.TeacherForce((DecoderPolicy)state.Policy, prompts, grpo.GroupSize, responses, maxResponseLength, grpo.Temperature);
        Tensor? weights = null;
        if (behaviourLogp is not null)
        {
            using var _ = no_grad();
            int rows = responses.Count, steps = (int)decoded.Steps;
            var behaviour = tensor(behaviourLogp, [rows, maxResponseLength]).narrow(1, 0, steps);
            weights = ImportanceWeights.Truncated(decoded.LogProbs, behaviour, decoded.Mask, grpo.IsTruncation, metrics);
        }
        return new SequenceRollout(state, prompts, decoded, weights);
    }

    Tensor? _deltas;

    public void Prepare(Tensor deltas) => _deltas = deltas.reshape(-1);

    public StepResult Step(bool lastStep)
    {
        var logProbs = LogProbs(_state.Policy);                                                 // [N, R, V+1]
        var logp = logProbs.gather(2, _decoded.Targets.unsqueeze(2)).squeeze(2);               // [N, R]
        var o = GrpoLoss.Compute(new LossInputs(logp, _decoded.LogProbs, _deltas ?? throw new InvalidOperationException("Prepare first"), _mask)
        {
            RefLogp = _refLogp,
            LogProbs = _refLogProbs is null ? null : logProbs,
            RefLogProbs = _refLogProbs,
            Entropy = _loss.EntropyCoef > 0 ? GrpoMath.TokenEntropy(logProbs) : null,
            Weights = _isWeights,
        }, _loss);
        return FactorisedRollout.Result(o, lastStep, _loss.DualClip is not null);
    }

    public void AddMetrics(EpochMetrics metrics)
    {
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
        return GrpoMath.LogProbs(logits, _state.Config.Grpo.Temperature);
    }
}
