namespace GrpoPipeline.Core;

/// <summary>
/// The keys of <c>metrics.jsonl</c>: the trainer writes them, the plots and the CLI read them. One line per epoch
/// holds <see cref="Epoch"/> and these keys.
/// </summary>
public static class MetricKeys
{
    /// <summary>The 1-based epoch a line describes.</summary>
    public const string Epoch = "epoch";
    /// <summary>Mean training reward of the rollout's responses.</summary>
    public const string RewardMean = "reward/mean";
    /// <summary>Population std of the rollout's rewards.</summary>
    public const string RewardStd = "reward/std";
    /// <summary>Smallest reward in the rollout.</summary>
    public const string RewardMin = "reward/min";
    /// <summary>Largest reward in the rollout.</summary>
    public const string RewardMax = "reward/max";
    /// <summary>Share of sampled responses that are exactly right: the mean of every task's <c>exact</c> component.</summary>
    public static readonly string RewardExact = Reward(RewardComponent.ExactName);
    /// <summary>The key of a reward component's mean: <c>reward/</c> and its name in snake_case (<c>reward/sort_distance</c>).</summary>
    public static string Reward(string component) => "reward/" + System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(component);
    /// <summary>Share of groups whose rewards are all equal: no learning signal under centered deltas.</summary>
    public const string RewardFracZeroStd = "reward/frac_zero_std";
    /// <summary>The policy-gradient loss, mean over the μ inner steps.</summary>
    public const string LossPolicy = "loss/policy";
    /// <summary>The KL(π‖π_ref) estimate, mean over the μ inner steps (0 without a reference).</summary>
    public const string LossKl = "loss/kl";
    /// <summary>Share of sampled tokens whose ratio fell below 1−ε_low with a negative delta, at the last step.</summary>
    public const string ClipRatioLow = "clip/ratio_low";
    /// <summary>Share of sampled tokens whose ratio rose above 1+ε_high with a positive delta, at the last step.</summary>
    public const string ClipRatioHigh = "clip/ratio_high";
    /// <summary>Mean per-position (per generated token) entropy of the rollout distribution.</summary>
    public const string PolicyEntropy = "policy/entropy";
    /// <summary>cleanrl's approx_kl against π_old at the last inner step: mean over tokens of (r − 1) − log r.</summary>
    public const string PolicyApproxKlOld = "policy/approx_kl_old";
    /// <summary>Mean response length in tokens, EOS included (variable-length tasks).</summary>
    public const string ResponseLengthMean = "response/length_mean";
    /// <summary>Shortest response in the rollout.</summary>
    public const string ResponseLengthMin = "response/length_min";
    /// <summary>Longest response in the rollout.</summary>
    public const string ResponseLengthMax = "response/length_max";
    /// <summary>Share of responses that reached maxLength + 1 tokens without EOS.</summary>
    public const string ResponseTruncated = "response/truncated";
    /// <summary>Global gradient norm of the last inner step, before clipping.</summary>
    public const string GradNorm = "grad/norm";
    /// <summary>The learning rate of the epoch (logged with a schedule only).</summary>
    public const string LearningRate = "optim/lr";
    /// <summary>Greedy exact-match share on the held-out prompts.</summary>
    public const string HeldOutExact = "heldout/exact";
    /// <summary>Mean training reward of the greedy responses on the held-out prompts.</summary>
    public const string HeldOutReward = "heldout/reward";
    /// <summary>Greedy exact-match share on the held-out prompts of length <paramref name="length"/> (variable-length tasks).</summary>
    public static string HeldOutExactAtLength(int length) => $"heldout/exact_len_{length}";
    /// <summary>Share of tokens whose ratio the dual clip bounds (above c with a negative delta); with grpo.dualClip.</summary>
    public const string ClipRatioDual = "clip/ratio_dual";
    /// <summary>The entropy bonus's coefficient in force this epoch (the controller moves it); with grpo.entropy.</summary>
    public const string PolicyEntropyCoef = "policy/entropy_coef";
    /// <summary>Dynamic sampling: share of the sampled groups kept (not all rewards tied), over all of the epoch's rollouts.</summary>
    public const string DynamicKeptShare = "dynamic/kept_share";
    /// <summary>Dynamic sampling: extra batches of prompts sampled this epoch to refill the batch.</summary>
    public const string DynamicExtraBatches = "dynamic/extra_batches";
    /// <summary>Dynamic sampling: groups trained on, as a share of the batch size (below 1 when the cap was hit).</summary>
    public const string DynamicBatchFill = "dynamic/batch_fill";
    /// <summary>Dynamic sampling: prompts drawn this epoch, the first batch and the refills.</summary>
    public const string DynamicPromptsSampled = "dynamic/prompts_sampled";
    /// <summary>Curriculum: the level trained at (a variable task's longest prompt, a random task's value range).</summary>
    public const string CurriculumLevel = "curriculum/level";
    /// <summary>Curriculum: greedy exact match on held-out prompts of the current level, when it was checked this epoch.</summary>
    public const string CurriculumExact = "curriculum/exact";
    /// <summary>Overlapped rollouts: mean importance weight π_old/π_behaviour over the tokens, before truncation.</summary>
    public const string OverlapIsWeight = "overlap/is_weight";
    /// <summary>Overlapped rollouts: the mean weight after truncation at grpo.overlap.isTruncation.</summary>
    public const string OverlapIsWeightTruncated = "overlap/is_weight_truncated";
    /// <summary>Overlapped rollouts: share of tokens whose weight was truncated.</summary>
    public const string OverlapIsTruncatedShare = "overlap/is_truncated_share";
    /// <summary>Overlapped rollouts: seconds the learner waited for the sampler; differs between runs.</summary>
    public const string OverlapWaitSeconds = "perf/overlap_wait_s";
    /// <summary>Wall time of the epoch, in seconds; differs between two runs of the same config and seed.</summary>
    public const string EpochSeconds = "perf/epoch_s";
    /// <summary>Responses sampled per second in the epoch; differs between two runs of the same config and seed.</summary>
    public const string SamplesPerSecond = "perf/samples_per_s";
}
