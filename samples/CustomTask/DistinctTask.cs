using GrpoPipeline.Core;

/// <summary>
/// A task of this app, in one file: answer with the prompt's distinct tokens in ascending order, the set of its
/// tokens: [3, 1, 3, 2, 1] → [1, 2, 3]. TokenListTask brings prompt sampling and the held-out split; this class brings
/// the name, the reward components and the check.
/// </summary>
public sealed class DistinctTask(TaskOptions options) : TokenListTask(options)
{
    public const string TaskName = "distinct";

    static readonly RewardComponent[] Rewards =
    [
        new("tokenShare", 1, "share of positions equal to the answer, of max(|response|, |answer|) (0..1)"),
        new(RewardComponent.ExactName, 0, "1 when the response is the answer, length included"),
    ];

    public override string Name => TaskName;
    public override IReadOnlyList<RewardComponent> Components => Rewards;

    public override void Score(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response, Span<double> values)
    {
        var answer = Answer(prompt, stackalloc long[prompt.Length]);
        int same = 0;
        for (int i = 0; i < Math.Min(answer.Length, response.Length); i++)
            if (answer[i] == response[i]) same++;
        values[0] = (double)same / Math.Max(answer.Length, response.Length);
        values[1] = answer.SequenceEqual(response) ? 1 : 0;
    }

    public override bool IsExact(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response) =>
        Answer(prompt, stackalloc long[prompt.Length]).SequenceEqual(response);

    public override double MaxReward(IReadOnlyList<double> weights, int promptLength) => weights[0] + weights[1];

    static ReadOnlySpan<long> Answer(ReadOnlySpan<long> prompt, Span<long> room)
    {
        int n = 0;
        foreach (var token in prompt)
            if (!room[..n].Contains(token)) room[n++] = token;
        room[..n].Sort();
        return room[..n];
    }
}
