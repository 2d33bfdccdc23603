using GrpoPipeline.Core;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GrpoPipeline.Training;

/// <summary>
/// Everything a run needs to continue exactly where it stopped: policy, frozen reference, optimizer, both random
/// generators and the number of completed epochs. <see cref="Checkpoint"/> saves and restores it.
/// </summary>
public sealed class TrainingState : IDisposable
{
    TrainingState(TrainConfig config, PolicyShape shape, nn.Module<Tensor, Tensor> policy)
    {
        Config = config;
        Shape = shape;
        Policy = policy;
        Optimizer = optim.Adam(policy.parameters(), config.Grpo.LearningRate);
        PromptSampler = new Rng((ulong)config.Seed ^ 0x5A17_0000_0000_0001UL);
        ResponseGenerator = new Generator((ulong)config.Seed + 1);
    }

    public TrainConfig Config { get; private set; }
    public PolicyShape Shape { get; }
    public nn.Module<Tensor, Tensor> Policy { get; }
    /// <summary>The frozen reference π_ref; null when the KL penalty is off.</summary>
    public nn.Module<Tensor, Tensor>? Reference { get; private set; }
    public Adam Optimizer { get; }
    /// <summary>Draws training prompts.</summary>
    public Rng PromptSampler { get; }
    /// <summary>Draws responses (torch.multinomial).</summary>
    public Generator ResponseGenerator { get; }
    /// <summary>Completed epochs.</summary>
    public int Epoch { get; set; }

    /// <summary>A fresh run: weights initialised from <see cref="TrainConfig.Seed"/>.</summary>
    public static TrainingState Create(TrainConfig config)
    {
        ApplyThreads(config);
        var shape = ShapeOf(config);
        manual_seed(config.Seed);   // module initialisers draw from the global generator
        return new TrainingState(config, shape, PolicyFactory.Create(shape));
    }

    /// <summary>An empty state of the given shape, for a checkpoint to fill in.</summary>
    internal static TrainingState CreateForRestore(TrainConfig config, PolicyShape shape)
    {
        ApplyThreads(config);
        return new(config, shape, PolicyFactory.Create(shape));
    }

    // torch's thread count is process-wide; results do not depend on it for these op sizes.
    static void ApplyThreads(TrainConfig config)
    {
        if (config.Run.Threads > 0) set_num_threads(config.Run.Threads);
    }

    public static PolicyShape ShapeOf(TrainConfig config) =>
        new(config.Policy, config.Task.MaxPromptLength, config.Task.MaxResponseLength, config.Task.Vocab);

    /// <summary>Refreshes π_ref at the start of epoch <paramref name="epochIndex"/> (0-based), as the lecture does.</summary>
    public void RefreshReferenceIfDue(int epochIndex)
    {
        if (Config.Grpo.KlCoef == 0) return;
        int period = Config.Grpo.RefPeriod;
        if (Reference is null) Reference = PolicyFactory.FrozenCopy(Policy, Shape);
        else if (period > 0 && epochIndex % period == 0) PolicyFactory.CopyWeights(Policy, Reference);
    }

    internal void SetReference(nn.Module<Tensor, Tensor> reference) => Reference = reference;

    /// <summary>Lets a resumed run train for more epochs than the checkpoint's config said.</summary>
    internal void ExtendEpochs(int epochs) => Config = Config with { Epochs = epochs };

    public void Dispose()
    {
        Optimizer.Dispose();
        Policy.Dispose();
        Reference?.Dispose();
        ResponseGenerator.Dispose();
    }
}
