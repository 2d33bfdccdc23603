using GrpoPipeline.Core;

namespace GrpoPipeline.Training;

/// <summary>
/// Dynamic sampling (DAPO, Yu et al. 2025, §3.2): groups whose G rewards all tie have all their deltas zero and are dropped, and
/// more prompts are drawn to refill the batch. <c>grpo.dynamicSampling</c>; null is off.
/// </summary>
public sealed record DynamicSamplingOptions
{
    /// <summary>
    /// The cap on the refills: at most this many more draws of prompts per epoch; when the batch is still short after
    /// them the epoch trains on the groups it kept. Default 2.
    /// </summary>
    public int MaxBatches { get; init; } = 2;

    /// <summary>Throws <see cref="ConfigException"/> naming the first bad <c>grpo.dynamicSampling.*</c> key.</summary>
    public void Validate() =>
        ConfigException.Require(MaxBatches is >= 0 and <= 100, "grpo.dynamicSampling.maxBatches", MaxBatches, "0..100 (0 drops tied groups without refilling)");
}

/// <summary>
/// Entropy bonus: the loss subtracts coef × the mean entropy of the policy's next-token distributions over the
/// responses' tokens (Williams &amp; Peng 1991; Mnih et al. 2016), with an optional controller that moves the
/// coefficient. <c>grpo.entropy</c>; null is off.
/// </summary>
public sealed record EntropyOptions
{
    /// <summary>The bonus's coefficient; with a <see cref="Controller"/>, the one it starts from (0 allowed). Default 0.001.</summary>
    public double Coef { get; init; } = 0.001;
    /// <summary>Adaptive entropy control of the coefficient; null keeps it fixed at <see cref="Coef"/>. Default null.</summary>
    public EntropyControllerOptions? Controller { get; init; }

    /// <summary>Throws <see cref="ConfigException"/> naming the first bad <c>grpo.entropy.*</c> key.</summary>
    public void Validate()
    {
        ConfigException.Require(Coef is >= 0 and <= 10, "grpo.entropy.coef", Coef, "0..10");
        ConfigException.Require(Coef > 0 || Controller is not null, "grpo.entropy.coef", Coef,
            "> 0 without a controller (a fixed 0 adds nothing; grpo.entropy: null turns the bonus off)");
        Controller?.Validate(Coef);
    }
}

/// <summary>
/// Adaptive entropy control (Skywork-OR1, He et al. 2025, §3.2.5): after each rollout the coefficient moves by
/// <see cref="Step"/> towards keeping <c>policy/entropy</c> at <see cref="Target"/> — up when the entropy is below it,
/// down (not below 0) when above, never above <see cref="Max"/>. <c>grpo.entropy.controller</c>; null is off.
/// </summary>
public sealed record EntropyControllerOptions
{
    /// <summary>The entropy, in nats, that the controller holds <c>policy/entropy</c> at. Required: no default.</summary>
    public required double Target { get; init; }
    /// <summary>The coefficient's step Δ per epoch. Default 0.0005.</summary>
    public double Step { get; init; } = 0.0005;
    /// <summary>The upper bound on the coefficient. Default 0.05.</summary>
    public double Max { get; init; } = 0.05;

    /// <summary>
    /// Throws <see cref="ConfigException"/> naming the first bad <c>grpo.entropy.controller.*</c> key, given the
    /// starting coefficient <paramref name="coef"/>.
    /// </summary>
    public void Validate(double coef)
    {
        ConfigException.Require(Target is >= 0 and <= 100, "grpo.entropy.controller.target", Target, "a target entropy 0..100 in nats");
        ConfigException.Require(Step is > 0 and <= 1, "grpo.entropy.controller.step", Step, "0 < Δ ≤ 1");
        ConfigException.Require(Max >= coef && Max <= 10, "grpo.entropy.controller.max", Max, $"grpo.entropy.coef ({coef})..10");
    }
}

/// <summary>
/// Overlapped rollouts: the rollout of epoch k+1 is sampled on a second thread with the weights epoch k started from
/// while the learner takes the μ steps of epoch k (the lecture's split between inference and training workers). The
/// schedule, not timing, fixes which weights a rollout uses, so a run and its resumed copy match. The learner corrects
/// the one-epoch staleness with a truncated importance weight. <c>grpo.overlap</c>; null is off.
/// </summary>
/// <remarks>
/// Any <c>run.threads</c> works: the weights and random state of a draw do not depend on it. With 1, the sampler and
/// the learner take a core each on a two-core machine.
/// </remarks>
public sealed record OverlapOptions
{
    /// <summary>
    /// The cap C of the importance weight min(π_old / π_behaviour, C) per token (truncated IS: Espeholt et al. 2018;
    /// Yao et al. 2025). Default 2.
    /// </summary>
    public double IsTruncation { get; init; } = 2;

    /// <summary>Throws <see cref="ConfigException"/> naming the first bad <c>grpo.overlap.*</c> key.</summary>
    public void Validate() =>
        ConfigException.Require(IsTruncation is >= 1 and <= 1000, "grpo.overlap.isTruncation", IsTruncation, "1..1000");
}
