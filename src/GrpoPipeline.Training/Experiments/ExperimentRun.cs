namespace GrpoPipeline.Training.Experiments;

/// <summary>A greedy held-out evaluation during a run, and the training time spent until then.</summary>
/// <param name="Epoch">The epoch it followed.</param>
/// <param name="TrainingSeconds">Wall time of the epochs so far, evaluations excluded.</param>
/// <param name="Exact">Held-out exact-match share.</param>
public readonly record struct HeldOutPoint(int Epoch, double TrainingSeconds, double Exact);

/// <summary>One training run of an experiment: what <see cref="ExperimentRunner"/> keeps of it, and its run file holds.</summary>
/// <param name="Variant">The variant's label.</param>
/// <param name="Seed">The run's seed.</param>
/// <param name="RewardCurve">reward/mean of every epoch.</param>
/// <param name="HeldOut">The held-out evaluations, every run.heldOutEvery epochs and at the end.</param>
/// <param name="FinalReward">Mean reward over the last tenth of the epochs.</param>
/// <param name="TiedCurve">reward/frac_zero_std of every epoch: the share of groups whose rewards all tie (the collapse).</param>
public sealed record ExperimentRun(string Variant, long Seed, double[] RewardCurve, HeldOutPoint[] HeldOut, double FinalReward, double[] TiedCurve)
{
    /// <summary>Held-out exact match after the last epoch.</summary>
    public double FinalHeldOutExact => HeldOut.Length == 0 ? double.NaN : HeldOut[^1].Exact;

    /// <summary>The first evaluation at or above <paramref name="target"/>, if any.</summary>
    public HeldOutPoint? FirstReaching(double target) =>
        HeldOut.Select(p => (HeldOutPoint?)p).FirstOrDefault(p => p!.Value.Exact >= target);

    /// <summary>The first evaluation from which every evaluation to the end is at or above <paramref name="target"/>, if any.</summary>
    public HeldOutPoint? HoldingFrom(double target)
    {
        HeldOutPoint? from = null;
        foreach (var p in HeldOut) from = p.Exact >= target ? from ?? p : null;
        return from;
    }

    /// <summary>The lowest evaluation from the first reaching <paramref name="target"/> to the end (null if never reached).</summary>
    public double? LowestAfterReaching(double target) =>
        FirstReaching(target) is { } first ? HeldOut.Where(p => p.Epoch >= first.Epoch).Min(p => p.Exact) : null;
}
