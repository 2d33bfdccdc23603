namespace GrpoPipeline.Core;

/// <summary>A task's reward with the config's weights: scores a whole rollout in one pass over its buffers.</summary>
public sealed class RewardFunction
{
    readonly double[] _weights;

    /// <exception cref="ConfigException">A weight names no component of <paramref name="task"/>, or is out of range.</exception>
    public RewardFunction(VerifiableTask task, RewardWeights weights)
    {
        Task = task;
        _weights = task.Weights(weights);
    }

    /// <summary>The task whose components are scored.</summary>
    public VerifiableTask Task { get; }

    /// <summary>Each component's weight, in the task's order.</summary>
    public IReadOnlyList<double> Weights => _weights;

    /// <summary>
    /// Scores <c>B·G</c> responses: response <c>b·G + g</c> answers prompt <c>b</c>. <paramref name="rewards"/>
    /// receives the weighted reward of each response, [B, G]. Returns the mean of each component, in the task's order.
    /// </summary>
    public double[] Score(TokenRows prompts, TokenRows responses, int groupSize, Span<float> rewards)
    {
        int batch = prompts.Count, components = _weights.Length;
        if (responses.Count != batch * groupSize || rewards.Length != batch * groupSize)
            throw new ArgumentException($"shapes disagree: {batch} prompts, {responses.Count} responses, {rewards.Length} rewards for G={groupSize}");
        Span<double> values = stackalloc double[components];
        var sums = new double[components];
        for (int b = 0; b < batch; b++)
            for (int g = 0; g < groupSize; g++)
            {
                Task.Score(prompts[b], responses[b * groupSize + g], values);
                double reward = 0;
                for (int c = 0; c < components; c++)
                {
                    reward += _weights[c] * values[c];
                    sums[c] += values[c];
                }
                rewards[b * groupSize + g] = (float)reward;
            }
        double n = Math.Max(1, batch * groupSize);
        for (int c = 0; c < components; c++) sums[c] /= n;
        return sums;
    }
}
