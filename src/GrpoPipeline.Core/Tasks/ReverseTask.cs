namespace GrpoPipeline.Core;

/// <summary>The response is the prompt's tokens in reverse order: a task of positions, not of values.</summary>
public sealed class ReverseTask(TaskOptions options) : TokenListTask(options)
{
    /// <summary>The name reversal is registered under.</summary>
    public const string TaskName = "reverse";

    static readonly RewardComponent[] Rewards =
    [
        new("positionShare", 1, "share of positions equal to the reversed prompt, of max(|response|, |prompt|) (0..1)"),
        new(RewardComponent.ExactName, 0, "1 when the response is the reversed prompt, length included"),
    ];

    /// <inheritdoc/>
    public override string Name => TaskName;

    /// <inheritdoc/>
    public override IReadOnlyList<RewardComponent> Components => Rewards;

    /// <inheritdoc/>
    public override void Score(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response, Span<double> values)
    {
        int n = Math.Min(prompt.Length, response.Length), same = 0;
        for (int i = 0; i < n; i++)
            if (response[i] == prompt[prompt.Length - 1 - i]) same++;
        values[0] = (double)same / Math.Max(1, Math.Max(prompt.Length, response.Length));
        values[1] = IsExact(prompt, response) ? 1 : 0;
    }

    /// <inheritdoc/>
    public override bool IsExact(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response)
    {
        if (response.Length != prompt.Length) return false;
        for (int i = 0; i < prompt.Length; i++)
            if (response[i] != prompt[prompt.Length - 1 - i]) return false;
        return true;
    }

    /// <inheritdoc/>
    public override double MaxReward(IReadOnlyList<double> weights, int promptLength) => weights[0] + weights[1];
}
