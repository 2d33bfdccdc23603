using GrpoPipeline.Core;
using GrpoPipeline.Training.Policies;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GrpoPipeline.Training;

/// <summary>
/// Everything a run needs to continue exactly where it stopped: policy, frozen reference, optimizer, both random
/// generators and the number of completed epochs. <see cref="Checkpoint"/> saves and restores it.
/// </summary>
public sealed class TrainingState : IDisposable
{
    TrainingState(TrainConfig config, VerifiableTask task, PolicyShape shape, GrpoPolicy policy)
    {
        Config = config;
        Task = task;
        Shape = shape;
        Policy = policy;
        Optimizer = new RootedAdam(policy.parameters(), config.Grpo.LearningRate);
        PromptSampler = new Rng((ulong)config.Seed ^ 0x5A17_0000_0000_0001UL);
        ResponseGenerator = new Generator((ulong)config.Seed + 1);
        EntropyCoef = config.Grpo.InitialEntropyCoef;
        CurriculumLevel = config.Task.Curriculum?.Start ?? config.Task.FinalLevel;
        if (config.Grpo.Overlap is not null)
            Overlap = new OverlapState(PolicyFactory.FrozenCopy(policy, shape), PromptSampler.State, GeneratorState(ResponseGenerator), CurriculumLevel);
    }

    static readonly Lock InitLock = new();

    /// <summary>
    /// The run's config; a resume given <c>--epochs</c> replaces it with a copy with those
    /// <see cref="TrainConfig.Epochs"/>.
    /// </summary>
    public TrainConfig Config { get; private set; }
    /// <summary>The task the run trains on (<see cref="TaskOptions.Name"/>).</summary>
    public VerifiableTask Task { get; }
    /// <summary>
    /// The policy's options and shape, from which <see cref="PolicyFactory"/> builds it and its copies.
    /// </summary>
    public PolicyShape Shape { get; }
    /// <summary>
    /// The policy being trained: a <see cref="SeedPolicy"/>, <see cref="FactorisedTransformerPolicy"/> or
    /// <see cref="DecoderPolicy"/>.
    /// </summary>
    public GrpoPolicy Policy { get; }
    /// <summary>The frozen reference π_ref; null when the KL penalty is off.</summary>
    public GrpoPolicy? Reference { get; private set; }
    /// <summary>
    /// Adam over the policy's parameters; the trainer sets its learning rate every epoch
    /// (<see cref="GrpoOptions.LearningRateAt"/>).
    /// </summary>
    public RootedAdam Optimizer { get; }
    /// <summary>Draws training prompts.</summary>
    public Rng PromptSampler { get; }
    /// <summary>Draws responses (torch.multinomial).</summary>
    public Generator ResponseGenerator { get; }
    /// <summary>Completed epochs.</summary>
    public int Epoch { get; set; }
    /// <summary>The entropy bonus's coefficient for the next epoch (grpo.entropy.coef, moved by its controller).</summary>
    public double EntropyCoef { get; set; }
    /// <summary>The curriculum level the next epoch samples at (the task's own level without a curriculum).</summary>
    public int CurriculumLevel { get; set; }
    /// <summary>With overlapped rollouts, what the next epoch's rollout is drawn from; null without.</summary>
    public OverlapState? Overlap { get; }

    /// <summary>A fresh run: weights initialised from <see cref="TrainConfig.Seed"/>.</summary>
    public static TrainingState Create(TrainConfig config)
    {
        ApplyThreads(config);
        var task = TaskRegistry.Create(config.Task);
        var shape = ShapeOf(config.Policy, task);
        // Module initialisers draw from the global generator: one state at a time, so states built on several threads
        // still get the weights their seeds name.
        lock (InitLock)
        {
            manual_seed(config.Seed);
            return new TrainingState(config, task, shape, PolicyFactory.Create(shape));
        }
    }

    /// <summary>An empty state of the given shape, for a checkpoint to fill in.</summary>
    internal static TrainingState CreateForRestore(TrainConfig config, PolicyShape shape)
    {
        ApplyThreads(config);
        return new(config, TaskRegistry.Create(config.Task), shape, PolicyFactory.Create(shape));
    }

    // torch's thread count is process-wide; results do not depend on it for these op sizes.
    static void ApplyThreads(TrainConfig config)
    {
        if (config.Run.Threads > 0) set_num_threads(config.Run.Threads);
    }

    /// <summary>The policy's shape for <paramref name="task"/>: its longest prompt and response, and its vocabulary.</summary>
    public static PolicyShape ShapeOf(PolicyOptions policy, VerifiableTask task) =>
        new(policy, task.MaxPromptLength, task.MaxResponseLength, task.Vocab);

    /// <summary>
    /// Refreshes π_ref at the start of epoch <paramref name="epochIndex"/> (0-based), as the lecture does: a hard copy,
    /// or with grpo.refMixup α &lt; 1 the soft update π_ref ← α·π + (1−α)·π_ref.
    /// </summary>
    public void RefreshReferenceIfDue(int epochIndex)
    {
        if (Config.Grpo.KlCoef == 0) return;
        int period = Config.Grpo.RefPeriod;
        if (Reference is null) Reference = PolicyFactory.FrozenCopy(Policy, Shape);
        else if (period > 0 && epochIndex % period == 0) PolicyFactory.MixWeights(Policy, Reference, Config.Grpo.RefMixup);
    }

    internal void SetReference(GrpoPolicy reference) => Reference = reference;

    /// <summary>Lets a resumed run train for more epochs than the checkpoint's config said.</summary>
    internal void ExtendEpochs(int epochs) => Config = Config with { Epochs = epochs };

    internal static byte[] GeneratorState(Generator generator)
    {
        using var state = generator.get_state();
        return state.data<byte>().ToArray();
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Disposes the policy, the reference, the optimizer, the response generator and the overlapped rollouts' frozen
    /// weights.
    /// </remarks>
    public void Dispose()
    {
        Overlap?.Weights.Dispose();
        Optimizer.Dispose();
        Policy.Dispose();
        Reference?.Dispose();
        ResponseGenerator.Dispose();
    }
}

/// <summary>
/// Overlapped rollouts' schedule state: the rollout of epoch k+1 is drawn with the weights epoch k started from, with
/// the prompt sampler and response generator as they were when that draw began, at the curriculum level of the time.
/// A checkpoint after epoch k saves exactly this, so a resumed run draws the same rollout again.
/// </summary>
/// <param name="Weights">A frozen copy of the policy: the weights of the next draw.</param>
/// <param name="PromptSamplerState">The prompt sampler's state when the next draw begins.</param>
/// <param name="GeneratorState">The response generator's state when the next draw begins.</param>
/// <param name="Level">The curriculum level of the next draw.</param>
public sealed record OverlapState(GrpoPolicy Weights, ulong[] PromptSamplerState, byte[] GeneratorState, int Level)
{
    /// <summary>
    /// The prompt sampler's state when the next draw begins; set as each draw starts, and on restore.
    /// </summary>
    public ulong[] PromptSamplerState { get; set; } = PromptSamplerState;
    /// <summary>
    /// The response generator's state when the next draw begins; set as each draw starts, and on restore.
    /// </summary>
    public byte[] GeneratorState { get; set; } = GeneratorState;
    /// <summary>The curriculum level of the next draw; set as each draw starts, and on restore.</summary>
    public int Level { get; set; } = Level;
}
