using GrpoPipeline.Core;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace GrpoPipeline.Training.Rollouts;

/// <summary>
/// The rollout of a factorised policy (seed, transformer: every position answered at once from the prompt). Its
/// precondition is what makes the fast path exact: each position's distribution does not depend on what was sampled at
/// the others, so the whole rollout is the [B, L, V] log-probs of one forward pass, and the loss is computed on
/// [B, L, V] from <see cref="TokenStatistics"/> with the gradient in closed form (<see cref="FactorisedFastPath"/>).
/// What the fast path does not compute (a sequence-level ratio, which couples the positions of a response; cispo) takes
/// the definition, <see cref="GrpoLoss.Compute"/>, on the gathered responses instead.
/// </summary>
sealed class FactorisedRollout : IRollout
{
    readonly TrainingState _state;
    readonly Tensor _prompts, _responses, _logProbsOld;
    readonly Tensor? _refLogProbs, _isWeights;
    readonly int _vocab;
    TokenStatistics? _stats;
    Tensor? _deltas;

    FactorisedRollout(TrainingState state, Tensor prompts, Tensor responses, Tensor logProbsOld, int vocab, Tensor? isWeights)
    {
        _state = state;
        _vocab = vocab;
        _prompts = prompts;
        _responses = responses;
        _logProbsOld = logProbsOld;
        _isWeights = isWeights;
        using var _ = no_grad();
        _refLogProbs = state.Reference is { } reference ? LogProbs(reference, prompts, state.Config.Grpo.Temperature) : null;
    }

    /// <summary>
    /// Samples G responses per prompt with <paramref name="policy"/> and <paramref name="generator"/>; writes them,
    /// [B·G] rows of L, into <paramref name="responses"/>. Given <paramref name="logProbs"/> — a draw by the overlapped
    /// sampler's copy of the weights — it writes their log-probs there and returns null: the learner replays them.
    /// Otherwise it returns the rollout, π_old being the sampling forward pass. Either way it gives the mean entropy of
    /// the sampled distributions.
    /// </summary>
    public static (FactorisedRollout? Rollout, double Entropy) Sample(TrainingState state, nn.Module<Tensor, Tensor> policy, Generator generator, TokenRows prompts, int vocab,
        TokenRows responses, float[]? logProbs = null)
    {
        int batch = prompts.Count, length = prompts.Stride, group = state.Config.Grpo.GroupSize;
        var promptTensor = tensor(prompts.Tokens, [batch, length]);
        using var _ = no_grad();
        policy.eval();   // dropout off while sampling
        var logProbsOld = LogProbs(policy, promptTensor, state.Config.Grpo.Temperature);              // [B, L, V]
        var sampled = multinomial(logProbsOld.exp().view(batch * length, vocab), group, replacement: true,
            generator: generator).view(batch, length, group);                                          // [B, L, G]
        // One contiguous managed copy, [B, G, L], for the rewards.
        sampled.permute(0, 2, 1).contiguous().data<long>().CopyTo(responses.Tokens, 0, 0);
        responses.Lengths.AsSpan().Fill(length);
        double entropy = GrpoMath.Entropy(logProbsOld).item<float>();
        if (logProbs is null) return (new FactorisedRollout(state, promptTensor, sampled, logProbsOld, vocab, null), entropy);
        logProbsOld.gather(2, sampled).permute(0, 2, 1).contiguous().data<float>().CopyTo(logProbs, 0, 0);
        return (null, entropy);
    }

    /// <summary>
    /// The rollout of responses sampled elsewhere — kept by dynamic sampling, or drawn by the overlapped sampler with
    /// older weights: π_old is recomputed by one forward pass of the current policy. With <paramref name="behaviourLogp"/>
    /// (the sampler's log-probs, [B·G] rows of L) each token's loss is weighted by min(π_old/π_behaviour, C).
    /// </summary>
    public static FactorisedRollout Replay(TrainingState state, TokenRows prompts, int vocab, TokenRows responses, float[]? behaviourLogp, EpochMetrics metrics)
    {
        int batch = prompts.Count, length = prompts.Stride, group = state.Config.Grpo.GroupSize;
        var promptTensor = tensor(prompts.Tokens, [batch, length]);
        using var _ = no_grad();
        state.Policy.eval();
        var logProbsOld = LogProbs(state.Policy, promptTensor, state.Config.Grpo.Temperature);
        // The buffers hold exactly these rows: the tensors read them in place (no managed copy per epoch).
        var sampled = tensor(responses.Tokens, [batch, group, length]).permute(0, 2, 1).contiguous();
        Tensor? weights = null;
        if (behaviourLogp is not null)
        {
            var behaviour = tensor(behaviourLogp, [batch, group, length]).permute(0, 2, 1);
            weights = ImportanceWeights.Truncated(logProbsOld.gather(2, sampled), behaviour, ones_like(behaviour), state.Config.Grpo.IsTruncation, metrics);
        }
        return new FactorisedRollout(state, promptTensor, sampled, logProbsOld, vocab, weights);
    }

    GrpoOptions Grpo => _state.Config.Grpo;

    public void Prepare(Tensor deltas)
    {
        _deltas = deltas;
        if (FactorisedFastPath.Supports(Loss, _responses.shape[1])) _stats = TokenStatistics.Aggregate(_responses, deltas, _vocab, _isWeights);
    }

    /// <summary>The loss's settings; every response has the prompt's length.</summary>
    TokenLoss Loss => Grpo.TokenLoss((int)_responses.shape[1], _state.EntropyCoef);

    public StepResult Step(bool lastStep)
    {
        var logProbs = LogProbs(_state.Policy, _prompts, Grpo.Temperature);
        var loss = Loss;
        var o = _stats is not null
            ? FactorisedFastPath.Objective(logProbs, _logProbsOld, _refLogProbs, _stats, loss)
            : Definition(logProbs, _deltas ?? throw new InvalidOperationException("Prepare first"), loss);
        return Result(o, lastStep, loss.DualClip is not null);
    }

    /// <summary>The definition on the gathered log-probs of each response, [B·G, L]: for what the fast path does not compute.</summary>
    LossOutput Definition(Tensor logProbs, Tensor deltas, TokenLoss loss)
    {
        long batch = _responses.shape[0], length = _responses.shape[1], group = _responses.shape[2];
        Tensor PerResponse(Tensor t) => t.gather(2, _responses).permute(0, 2, 1).reshape(batch * group, length);
        Tensor Full(Tensor t) => t.unsqueeze(1).expand(batch, group, length, _vocab).reshape(batch * group, length, _vocab);
        bool exact = loss.Estimator == KlEstimator.Exact && _refLogProbs is not null;
        // Every response of a prompt sees the same per-position distributions: their entropy, [B, L], repeated G times.
        var entropy = loss.EntropyCoef > 0
            ? GrpoMath.TokenEntropy(logProbs).unsqueeze(1).expand(batch, group, length).reshape(batch * group, length)
            : null;
        return GrpoLoss.Compute(new LossInputs(PerResponse(logProbs), PerResponse(_logProbsOld), deltas.reshape(batch * group), ones(batch * group, length))
        {
            RefLogp = _refLogProbs is null ? null : PerResponse(_refLogProbs),
            LogProbs = exact ? Full(logProbs) : null,
            RefLogProbs = exact ? Full(_refLogProbs!) : null,
            Entropy = entropy,
            Weights = _isWeights?.permute(0, 2, 1).reshape(batch * group, length),
        }, loss);
    }

    internal static StepResult Result(LossOutput o, bool lastStep, bool dualClip) => new(o.Loss, o.PolicyLoss.item<float>(), o.Kl.item<float>(),
        lastStep ? o.ClipLow.item<float>() : double.NaN, lastStep ? o.ClipHigh.item<float>() : double.NaN,
        lastStep ? o.ApproxKlOld.item<float>() : double.NaN, lastStep && dualClip ? o.ClipDual.item<float>() : double.NaN);

    public void AddMetrics(EpochMetrics metrics) { }

    /// <summary>log softmax(logits / T): the distribution that is sampled is the one that is trained.</summary>
    static Tensor LogProbs(nn.Module<Tensor, Tensor> policy, Tensor prompts, double temperature) =>
        GrpoMath.LogProbs(policy.forward(prompts), temperature);
}
