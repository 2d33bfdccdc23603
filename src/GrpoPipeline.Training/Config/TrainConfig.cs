using System.Text.Json;
using System.Text.Json.Serialization;
using GrpoPipeline.Core;

namespace GrpoPipeline.Training;

/// <summary>GRPO hyper-parameters.</summary>
public sealed record GrpoOptions
{
    /// <summary>Responses sampled per prompt, G. Default 10.</summary>
    public int GroupSize { get; init; } = 10;
    /// <summary>Optimizer steps per rollout, μ. Default 10.</summary>
    public int InnerSteps { get; init; } = 10;
    /// <summary>How rewards become deltas. Default <c>centered</c>.</summary>
    public DeltasMode Deltas { get; init; } = DeltasMode.Centered;
    /// <summary>Policy-gradient surrogate. Default <c>clipped</c>.</summary>
    public LossMode Loss { get; init; } = LossMode.Clipped;
    /// <summary>Lower clip range ε_low: ratios below 1−ε_low are clipped (with cispo, 1 means no lower bound on the weight). Default 0.1.</summary>
    public double ClipLow { get; init; } = 0.1;
    /// <summary>Upper clip range ε_high: ratios above 1+ε_high are clipped. Default 0.1.</summary>
    public double ClipHigh { get; init; } = 0.1;
    /// <summary>KL penalty coefficient β; 0 disables the reference policy. Default 0.01.</summary>
    public double KlCoef { get; init; } = 0.01;
    /// <summary>KL estimator. Default <c>k3</c>.</summary>
    public KlEstimator KlEstimator { get; init; } = KlEstimator.K3;
    /// <summary>Epochs between refreshes of the frozen reference; 0 keeps the initial policy. Default 10.</summary>
    public int RefPeriod { get; init; } = 10;
    /// <summary>Adam learning rate. Default 1e-3.</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>
    /// Learning rate reached at the last epoch by cosine decay from <see cref="LearningRate"/>; null keeps it constant.
    /// Default null.
    /// </summary>
    public double? LearningRateFinal { get; init; }
    /// <summary>Clip the global gradient norm to this; 0 turns clipping off. Default 0.</summary>
    public double MaxGradNorm { get; init; }
    /// <summary>Sampling temperature; the trained distribution is softmax(logits / T). Default 1.</summary>
    public double Temperature { get; init; } = 1;
    /// <summary>
    /// How the per-token policy loss is averaged: <c>sequence_mean</c>, <c>token_mean</c> or <c>constant</c>. The
    /// three agree when every response has the same length (a fixed-length task). Default <c>sequence_mean</c>.
    /// </summary>
    public LossAggregation LossAggregation { get; init; } = LossAggregation.SequenceMean;
    /// <summary>Importance ratio per <c>token</c> or per <c>sequence</c> (GSPO). Default <c>token</c>.</summary>
    public RatioLevel RatioLevel { get; init; } = RatioLevel.Token;
    /// <summary>
    /// Truncated responses (no EOS within maxLength + 1 tokens) add nothing to the loss (DAPO's overlong filtering);
    /// false scores them as they are. They still count in their group's deltas. Default false.
    /// </summary>
    public bool MaskTruncated { get; init; }

    /// <summary>
    /// Dual clip c: with a negative delta the ratio is also bounded above by c, so a token the update has already
    /// made far likelier cannot pull the loss without bound (Ye et al. 2020, "Mastering Complex Control in MOBA Games
    /// with Deep Reinforcement Learning", §3.3). Needs <c>loss: clipped</c>; c &gt; 1. Default null (off).
    /// </summary>
    public double? DualClip { get; init; }
    /// <summary>
    /// Dynamic sampling (DAPO): groups whose G rewards all tie are dropped and more prompts drawn to refill the batch;
    /// null is off. Default null.
    /// </summary>
    public DynamicSamplingOptions? DynamicSampling { get; init; }
    /// <summary>Entropy bonus, with an optional controller of its coefficient; null is off. Default null.</summary>
    public EntropyOptions? Entropy { get; init; }
    /// <summary>
    /// Reference mixup α: every <see cref="RefPeriod"/> epochs π_ref ← α·π + (1−α)·π_ref, weight by weight, instead of a
    /// hard copy (TR-DPO's soft update, Gorbatovski et al. 2024). 1 is the hard copy. Default 1.
    /// </summary>
    public double RefMixup { get; init; } = 1;
    /// <summary>
    /// Overlapped rollouts: epoch k+1's rollout is drawn on a second thread while epoch k trains, with a truncated
    /// importance weight for the staleness; null is off. Default null.
    /// </summary>
    public OverlapOptions? Overlap { get; init; }

    /// <summary>The entropy bonus's coefficient at the start of a run: <c>grpo.entropy.coef</c>, or 0 when the bonus is off.</summary>
    [JsonIgnore] public double InitialEntropyCoef => Entropy?.Coef ?? 0;

    /// <summary>
    /// The settings of the per-token loss for responses of at most <paramref name="maxResponseLength"/> tokens, with the
    /// entropy coefficient in force (the controller's, when it runs).
    /// </summary>
    public TokenLoss TokenLoss(int maxResponseLength, double entropyCoef) =>
        new(Loss, ClipLow, ClipHigh, LossAggregation, RatioLevel, KlEstimator, KlCoef, maxResponseLength, DualClip, entropyCoef);

    /// <summary>The learning rate for 0-based <paramref name="epochIndex"/> of <paramref name="epochs"/>.</summary>
    public double LearningRateAt(int epochIndex, int epochs) => LearningRateFinal is not { } final || epochs <= 1
        ? LearningRate
        : final + 0.5 * (LearningRate - final) * (1 + Math.Cos(Math.PI * epochIndex / (epochs - 1)));   // cosine (Loshchilov & Hutter 2017)

    /// <summary>Throws <see cref="ConfigException"/> naming the first bad <c>grpo.*</c> key.</summary>
    public void Validate()
    {
        ConfigException.Require(GroupSize is >= 2 and <= 4096, "grpo.groupSize", GroupSize, "2..4096 (a group needs two responses for a baseline)");
        ConfigException.Require(InnerSteps is >= 1 and <= 1000, "grpo.innerSteps", InnerSteps, "1..1000");
        ConfigException.Require(Enum.IsDefined(Deltas), "grpo.deltas", Deltas, "rewards, centered, normalized, max, batch_normalized, rloo");
        ConfigException.Require(Enum.IsDefined(Loss), "grpo.loss", Loss, "naive, unclipped, clipped, cispo");
        ConfigException.Require(ClipLow is > 0 and < 1 || (Loss == LossMode.Cispo && ClipLow == 1), "grpo.clipLow", ClipLow,
            "0 < ε_low < 1 (or 1 with grpo.loss cispo: no lower bound on the weight)");
        ConfigException.Require(ClipHigh is > 0 and <= 10, "grpo.clipHigh", ClipHigh, "0 < ε_high ≤ 10");
        ConfigException.Require(KlCoef is >= 0 and <= 100, "grpo.klCoef", KlCoef, "0..100");
        ConfigException.Require(Enum.IsDefined(KlEstimator), "grpo.klEstimator", KlEstimator, "k1, k2, k3, exact");
        ConfigException.Require(RefPeriod >= 0, "grpo.refPeriod", RefPeriod, "0 (never refresh) or a positive number of epochs");
        ConfigException.Require(LearningRate is > 0 and <= 1, "grpo.learningRate", LearningRate, "0 < lr ≤ 1");
        ConfigException.Require(LearningRateFinal is null or (>= 0 and <= 1), "grpo.learningRateFinal", LearningRateFinal, "null (constant) or 0..1");
        ConfigException.Require(MaxGradNorm is >= 0 and <= 1e6, "grpo.maxGradNorm", MaxGradNorm, "0 (off) or a positive norm");
        ConfigException.Require(Temperature is >= 0.01 and <= 100, "grpo.temperature", Temperature, "0.01..100");
        ConfigException.Require(Enum.IsDefined(LossAggregation), "grpo.lossAggregation", LossAggregation, "sequence_mean, token_mean, constant");
        ConfigException.Require(Enum.IsDefined(RatioLevel), "grpo.ratioLevel", RatioLevel, "token, sequence");
        ConfigException.Require(DualClip is null or (> 1 and <= 1000), "grpo.dualClip", DualClip, "null (off) or c > 1");
        if (DualClip is not null)
            ConfigException.Require(Loss == LossMode.Clipped, "grpo.dualClip", DualClip, "null unless grpo.loss is clipped (the dual clip bounds the clipped surrogate)");
        DynamicSampling?.Validate();
        Entropy?.Validate();
        ConfigException.Require(RefMixup is > 0 and <= 1, "grpo.refMixup", RefMixup, "0 < α ≤ 1 (1 is a hard copy)");
        if (RefMixup < 1)
            ConfigException.Require(KlCoef > 0 && RefPeriod > 0, "grpo.refMixup", RefMixup, "1 unless grpo.klCoef > 0 and grpo.refPeriod > 0 (it mixes the reference the KL term uses at each refresh)");
        Overlap?.Validate();
    }
}

/// <summary>Logging, evaluation and checkpoint cadence.</summary>
public sealed record RunOptions
{
    /// <summary>Epochs between console progress lines. Default 100.</summary>
    public int LogEvery { get; init; } = 100;
    /// <summary>Epochs between greedy evaluations on the held-out prompts; 0 = only at the end. Default 100.</summary>
    public int HeldOutEvery { get; init; } = 100;
    /// <summary>Epochs between checkpoints; 0 = only at the end. Default 500.</summary>
    public int CheckpointEvery { get; init; } = 500;
    /// <summary>
    /// Checkpoints kept: the newest K, plus the one with the best held-out exact match (Hugging Face's
    /// save_total_limit); 0 keeps every one. Default 3.
    /// </summary>
    public int KeepCheckpoints { get; init; } = 3;
    /// <summary>
    /// torch intra-op threads; 0 keeps torch's default (one per core). Default 1: the policies here are small, and
    /// idle worker threads spinning on a busy 2-core machine cost far more than they give.
    /// </summary>
    public int Threads { get; init; } = 1;
    /// <summary>Write TensorBoard event files into the run directory, the metrics.jsonl keys as scalars. Default true.</summary>
    public bool Tensorboard { get; init; } = true;

    /// <summary>Throws <see cref="ConfigException"/> naming the first bad <c>run.*</c> key.</summary>
    public void Validate()
    {
        ConfigException.Require(LogEvery >= 1, "run.logEvery", LogEvery, "≥ 1");
        ConfigException.Require(HeldOutEvery >= 0, "run.heldOutEvery", HeldOutEvery, "≥ 0");
        ConfigException.Require(CheckpointEvery >= 0, "run.checkpointEvery", CheckpointEvery, "≥ 0");
        ConfigException.Require(KeepCheckpoints >= 0, "run.keepCheckpoints", KeepCheckpoints, "≥ 0 (0 keeps every checkpoint)");
        ConfigException.Require(Threads is >= 0 and <= 256, "run.threads", Threads, "0 (torch default) or 1..256");
    }
}

/// <summary>A whole training run's configuration, as stored in <c>models/configs/*.json</c> and in checkpoints.</summary>
public sealed record TrainConfig
{
    /// <summary>Name of the run; the run directory defaults to <c>models/runs/&lt;runName&gt;</c>. Default "seed".</summary>
    public string RunName { get; init; } = "seed";
    /// <summary>Seed of the weights, the prompt sampler and the response sampler. Default 0.</summary>
    public long Seed { get; init; }
    /// <summary>Number of epochs (rollout + μ optimizer steps each). Default 1000.</summary>
    public int Epochs { get; init; } = 1000;
    /// <summary>The task: which prompts exist, and which are held out.</summary>
    public TaskOptions Task { get; init; } = new();
    /// <summary>Weights of the task's reward components by name; a component not named keeps its default.</summary>
    public RewardWeights Rewards { get; init; } = new();
    /// <summary>Policy architecture and size.</summary>
    public PolicyOptions Policy { get; init; } = new();
    /// <summary>GRPO hyper-parameters.</summary>
    public GrpoOptions Grpo { get; init; } = new();
    /// <summary>Logging, evaluation and checkpoint cadence.</summary>
    public RunOptions Run { get; init; } = new();

    /// <summary>Responses sampled per epoch, B·G.</summary>
    [JsonIgnore] public int SamplesPerEpoch => TaskRegistry.Create(Task).BatchSize * Grpo.GroupSize;

    /// <summary>
    /// Throws <see cref="ConfigException"/> naming the first bad key: every section, the reward weights against the
    /// task's components, and the policy kind against the task (a decoder for a variable-length task, and only for one).
    /// </summary>
    public void Validate()
    {
        ConfigException.Require(!string.IsNullOrWhiteSpace(RunName) && RunName.IndexOfAny(Path.GetInvalidFileNameChars()) < 0 && RunName is not ("." or ".."),
            "runName", RunName, "a non-empty name usable as a folder name");
        ConfigException.Require(Seed >= 0, "seed", Seed, "≥ 0");
        ConfigException.Require(Epochs is >= 1 and <= 100_000_000, "epochs", Epochs, "1..100000000");
        ConfigException.Require(Task is not null, "task", null, "an object");
        ConfigException.Require(Rewards is not null, "rewards", null, "an object");
        ConfigException.Require(Policy is not null, "policy", null, "an object");
        ConfigException.Require(Grpo is not null, "grpo", null, "an object");
        ConfigException.Require(Run is not null, "run", null, "an object");
        var task = TaskRegistry.Create(Task!);   // validates the task's options
        task.Weights(Rewards!);                   // and the weights against its components
        Policy!.Validate(); Grpo!.Validate(); Run!.Validate();
        // A factorised policy answers every position at once, so its responses have the prompt's length; a decoder
        // answers token by token and ends with EOS, which is what a variable-length task asks for.
        if (Policy.Kind == PolicyKind.Decoder)
            ConfigException.Require(task.IsVariableLength, "task.kind", Task!.Kind,
                "variable with policy.kind = decoder (for one length, set task.minLength = task.maxLength)");
        else
            ConfigException.Require(!task.IsVariableLength, "policy.kind", Policy.Kind,
                $"decoder for a variable-length task ({task.Name}): seed and transformer answer every position at once, so they need task.kind fixed or random");
    }

    /// <summary>Strict JSON (see <see cref="ConfigJson"/>).</summary>
    public static JsonSerializerOptions Json => ConfigJson.Options;

    /// <summary>
    /// Parses and validates a config; the flat stability keys of 0.2 are read as their nested tools
    /// (<see cref="FlatStabilityKeys"/>). Throws <see cref="ConfigException"/> naming the offending key.
    /// </summary>
    public static TrainConfig Parse(string json, string source = "config")
    {
        TrainConfig? config;
        try { config = JsonSerializer.Deserialize<TrainConfig>(FlatStabilityKeys.Nest(json), Json); }
        catch (JsonException e)
        {
            var key = ConfigJson.KeyOf(e);
            throw new ConfigException(key, $"{source}: config '{key}': {ConfigJson.Describe(e)}");
        }
        if (config is null) throw new ConfigException("$", $"{source}: expected a JSON object, found null");
        config.Validate();
        return config;
    }

    /// <summary>Loads a config file. Throws <see cref="ConfigException"/> for a missing file or a bad value.</summary>
    public static TrainConfig Load(string path)
    {
        ConfigException.Require(File.Exists(path), "--config", path, "an existing JSON config file");
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>The config as indented strict JSON (<see cref="Json"/>), as <see cref="Parse"/> reads it.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);
}
