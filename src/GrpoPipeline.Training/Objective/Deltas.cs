using static TorchSharp.torch;

namespace GrpoPipeline.Training;

public static partial class GrpoMath
{
    const double StdEpsilon = 1e-5;   // the lecture's

    /// <summary>Deltas [B, G] from rewards [B, G]: the group baseline of <paramref name="mode"/>.</summary>
    public static Tensor Deltas(Tensor rewards, DeltasMode mode)
    {
        using var scope = NewDisposeScope();
        using var s = new ScalarScope();
        var result = mode switch
        {
            DeltasMode.Rewards => rewards.clone(),
            DeltasMode.Centered => rewards - rewards.mean([-1], keepdim: true),
            // torch.std is unbiased by default, like the lecture's rewards.std(dim=-1).
            DeltasMode.Normalized => (rewards - rewards.mean([-1], keepdim: true)) / rewards.std(-1, unbiased: true, keepdim: true).add(s[StdEpsilon], Scalars.One),
            DeltasMode.Max => where(rewards == rewards.amax([-1], keepdim: true), rewards, zeros_like(rewards)),
            DeltasMode.BatchNormalized => (rewards - rewards.mean([-1], keepdim: true)) / rewards.std(unbiased: true).add(s[StdEpsilon], Scalars.One),
            // R_i − (Σ_j R_j − R_i)/(G − 1) = G/(G − 1)·(R_i − mean): the baseline of each response leaves it out (RLOO).
            DeltasMode.Rloo => (rewards - rewards.mean([-1], keepdim: true)) * s[LeaveOneOutScale(rewards.shape[^1])],
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
        };
        return result.MoveToOuterDisposeScope();
    }

    static double LeaveOneOutScale(long group) =>
        group >= 2 ? group / (group - 1.0) : throw new ArgumentException($"a leave-one-out baseline needs two responses per group, not {group}");

    /// <summary>
    /// Dynamic sampling's filter (DAPO): the groups of <paramref name="rewards"/> (rows of <paramref name="groupSize"/>)
    /// whose rewards do not all tie, in order. A tied group's centered deltas are all zero: it carries no signal.
    /// </summary>
    public static List<int> UntiedGroups(ReadOnlySpan<float> rewards, int groupSize)
    {
        var kept = new List<int>();
        for (int g = 0; g < rewards.Length / groupSize; g++)
        {
            var group = rewards.Slice(g * groupSize, groupSize);
            foreach (var r in group)
                if (r != group[0]) { kept.Add(g); break; }
        }
        return kept;
    }
}
