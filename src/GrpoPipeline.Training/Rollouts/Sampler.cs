using GrpoPipeline.Core;
using GrpoPipeline.Training.Policies;
using static TorchSharp.torch;

namespace GrpoPipeline.Training.Rollouts;

/// <summary>
/// One epoch's training batch before the update: prompts, G responses to each, their rewards, and the metrics of how
/// they were drawn. <see cref="Draw"/> is set when the responses were drawn with the current weights and kept whole
/// (π_old is the sampling pass); otherwise <see cref="Rollout.Build"/> replays them, and <see cref="BehaviourLogp"/> (when
/// set) holds the log-probs they were drawn with, rows of the task's longest response, for the importance weights. <see cref="Entropy"/> is the policy's mean entropy on
/// the first draw — prompts drawn uniformly, before any filter — which is what the entropy controller steers.
/// </summary>
sealed record SampledBatch(TokenRows Prompts, TokenRows Responses, float[] Rewards, float[]? BehaviourLogp, ResponseBatch? Draw, EpochMetrics Metrics, double Entropy);

/// <summary>
/// The Rollout and Score phases of an epoch: draws training prompts (at the curriculum's level), samples G responses
/// to each with the given weights and scores them; with dynamic sampling (DAPO) drops the groups whose rewards all tie
/// and draws more prompts, in at most grpo.dynamicSampling.maxBatches more draws, until the batch is full again. A
/// refill draws about as many prompts as the missing groups need at the kept share seen so far (+25%), not a whole
/// batch. The reward metrics describe the first draw: what the policy does on prompts drawn uniformly (so
/// <c>reward/frac_zero_std</c> is the share dynamic sampling drops).
/// </summary>
sealed class Sampler
{
    readonly TrainingState _state;
    readonly RewardFunction _reward;
    readonly int _batch, _group, _stride;
    readonly long _pad;
    readonly Draft _first;
    readonly Dictionary<int, Draft> _refills = [];
    readonly TokenRows _keptPrompts, _keptResponses;
    readonly float[] _keptRewards, _keptLogp;

    /// <summary>The prompts, responses, rewards and (for a behaviour draw) log-probs of one draw of <c>count</c> prompts.</summary>
    sealed record Draft(TokenRows Prompts, TokenRows Responses, float[] Rewards, float[] Logp);

    public Sampler(TrainingState state, RewardFunction reward)
    {
        _state = state;
        _reward = reward;
        var task = state.Task;
        _batch = task.BatchSize;
        _group = state.Config.Grpo.GroupSize;
        _stride = task.MaxResponseLength;
        _pad = task.Padding;
        _first = NewDraft(_batch);
        _keptPrompts = new TokenRows(_batch, task.MaxPromptLength, _pad);
        _keptResponses = new TokenRows(_batch * _group, _stride, _pad);
        _keptRewards = new float[_batch * _group];
        _keptLogp = new float[_batch * _group * _stride];
    }

    /// <summary>Decode an autoregressive policy's responses with the KV cache (see <see cref="SamplingSettings.KvCache"/>).</summary>
    public bool KvCache { get; set; } = true;

    GrpoOptions Grpo => _state.Config.Grpo;

    Draft NewDraft(int prompts) => new(new TokenRows(prompts, _state.Task.MaxPromptLength, _pad),
        new TokenRows(prompts * _group, _stride, _pad), new float[prompts * _group], new float[prompts * _group * _stride]);

    /// <summary>
    /// Draws one batch from <paramref name="task"/> with <paramref name="policy"/>'s weights. <paramref name="current"/>
    /// says they are the policy's own (π_old may come from the sampling pass); otherwise the batch carries the
    /// sampling log-probs for the learner's importance weights. Its buffers are reused by the next draw.
    /// </summary>
    public SampledBatch Draw(VerifiableTask task, GrpoPolicy policy, bool current)
    {
        var metrics = new EpochMetrics(0);
        var draft = _first;
        var (own, entropy, components) = Round(task, policy, current, draft);
        RewardStatistics.Add(metrics, draft.Rewards, _group, _reward.Task.Components, components);
        metrics.Add(MetricKeys.PolicyEntropy, entropy);
        var behaviour = current ? null : draft.Logp;
        if (Grpo.DynamicSampling is not { } dynamic) return new(draft.Prompts, draft.Responses, draft.Rewards, behaviour, own, metrics, entropy);

        int kept = 0, sampled = 0, untied = 0, extra = 0;
        while (true)
        {
            var groups = GrpoMath.UntiedGroups(draft.Rewards, _group);
            sampled += draft.Prompts.Count;
            untied += groups.Count;
            if (extra == 0 && groups.Count == _batch) break;   // nothing to drop: the batch trains as drawn
            foreach (int g in groups.Take(_batch - kept)) Keep(draft, g, kept++);
            if (kept == _batch || extra == dynamic.MaxBatches) break;
            extra++;
            draft = Refill(RefillSize(_batch, kept, untied, sampled));
            own = Round(task, policy, current, draft).Draw;
        }
        bool whole = extra == 0 && kept == 0 && untied == _batch;
        metrics.Add(MetricKeys.DynamicKeptShare, (double)untied / sampled);
        metrics.Add(MetricKeys.DynamicExtraBatches, extra);
        metrics.Add(MetricKeys.DynamicBatchFill, whole ? 1 : (double)kept / _batch);
        metrics.Add(MetricKeys.DynamicPromptsSampled, sampled);
        if (whole) return new(draft.Prompts, draft.Responses, draft.Rewards, behaviour, own, metrics, entropy);
        // No group kept at all: the last draw trains as drawn (its deltas are zero; the KL and entropy terms still act).
        if (kept == 0) return new(draft.Prompts, draft.Responses, draft.Rewards, current ? null : draft.Logp, own, metrics, entropy);
        // A full batch uses the kept buffers as they are; only a batch short of the cap is copied out.
        if (kept == _batch) return new(_keptPrompts, _keptResponses, _keptRewards, current ? null : _keptLogp, null, metrics, entropy);
        return new(Take(_keptPrompts, kept), Take(_keptResponses, kept * _group), _keptRewards[..(kept * _group)],
            current ? null : _keptLogp[..(kept * _group * _stride)], null, metrics, entropy);
    }

    /// <summary>
    /// A refill's prompts: enough for the missing groups at the kept share so far (at least 1 in 20) with a 25% margin,
    /// rounded up to a multiple of an eighth of the batch (so a run allocates at most eight refill buffers), at most a
    /// batch.
    /// </summary>
    internal static int RefillSize(int batch, int kept, int untied, int sampled)
    {
        double share = Math.Max(0.05, (double)untied / sampled);
        int needed = (int)Math.Ceiling((batch - kept) / share * 1.25);
        int unit = Math.Max(1, batch / 8);
        return Math.Min(batch, (needed + unit - 1) / unit * unit);
    }

    Draft Refill(int size)
    {
        if (!_refills.TryGetValue(size, out var draft)) _refills[size] = draft = NewDraft(size);
        return draft;
    }

    /// <summary>
    /// One draw of <paramref name="draft"/>'s prompts, their responses and rewards: the policy's batch when drawn with the
    /// current weights (null for a behaviour draw, whose log-probs go to <c>draft.Logp</c>), the draw's entropy and its
    /// reward components.
    /// </summary>
    (ResponseBatch? Draw, double Entropy, double[] Components) Round(VerifiableTask task, GrpoPolicy policy, bool current, Draft draft)
    {
        task.SampleTrainingBatch(draft.Prompts, _state.PromptSampler);
        var batch = policy.Sample(draft.Prompts, draft.Responses,
            new SamplingSettings(_group, Grpo.Temperature, _stride, _state.ResponseGenerator, KvCache));
        if (!current) batch.CopyLogp(draft.Logp, _stride);
        return (current ? batch : null, batch.Entropy, _reward.Score(draft.Prompts, draft.Responses, _group, draft.Rewards));
    }

    /// <summary>Copies group <paramref name="g"/> of <paramref name="draft"/> into slot <paramref name="slot"/> of the kept batch.</summary>
    void Keep(Draft draft, int g, int slot)
    {
        _keptPrompts.Set(slot, draft.Prompts[g]);
        for (int i = 0; i < _group; i++) _keptResponses.Set(slot * _group + i, draft.Responses[g * _group + i]);
        Array.Copy(draft.Rewards, g * _group, _keptRewards, slot * _group, _group);
        Array.Copy(draft.Logp, g * _group * _stride, _keptLogp, slot * _group * _stride, _group * _stride);
    }

    static TokenRows Take(TokenRows rows, int count)
    {
        var result = new TokenRows(count, rows.Stride, rows.Padding);
        for (int i = 0; i < count; i++) result.Set(i, rows[i]);
        return result;
    }
}
