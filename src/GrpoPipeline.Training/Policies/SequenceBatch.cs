using GrpoPipeline.Core;
using static TorchSharp.torch;

namespace GrpoPipeline.Training.Policies;

/// <summary>
/// An autoregressive policy's batch: a decode's (or a teacher-forced replay's) tensors. The log-probs of its tokens under
/// a policy come from one teacher-forced pass, each prompt computed once for its G responses.
/// </summary>
sealed class SequenceBatch(DecodedResponses decoded, Tensor promptBlock, int group)
    : ResponseBatch(decoded.Mask, decoded.LogProbs, decoded.Entropy)
{
    // The response tokens but the last: a teacher-forced pass predicts each response token from those before it.
    readonly Tensor _responseInputs = decoded.Tokens.narrow(1, 0, decoded.Steps - 1);

    public override Tensor Truncated => decoded.Truncated;

    public override ResponseLogProbs LogProbs(GrpoPolicy policy, double temperature)
    {
        var decoder = policy as DecoderPolicy ?? throw new ArgumentException($"a decoder's batch is scored by a decoder, not {policy.GetType().Name}", nameof(policy));
        var logits = decoder.ForwardResponses(promptBlock, group, _responseInputs);
        return new SequenceLogProbs(GrpoMath.LogProbs(logits, temperature), decoded.Targets);
    }

    public override void AddMetrics(EpochMetrics metrics)
    {
        // Lengths in tokens, EOS included: what the policy generated.
        var lengths = decoded.Mask.sum(1);
        metrics.Add(MetricKeys.ResponseLengthMean, lengths.mean().item<float>());
        metrics.Add(MetricKeys.ResponseLengthMin, lengths.min().item<float>());
        metrics.Add(MetricKeys.ResponseLengthMax, lengths.max().item<float>());
        metrics.Add(MetricKeys.ResponseTruncated, decoded.Truncated.to(ScalarType.Float32).mean().item<float>());
    }

    sealed class SequenceLogProbs(Tensor logProbs, Tensor targets) : ResponseLogProbs(logProbs.gather(2, targets.unsqueeze(2)).squeeze(2))
    {
        public override Tensor Distributions() => logProbs;
        public override Tensor TokenEntropy() => GrpoMath.TokenEntropy(logProbs);
    }
}
