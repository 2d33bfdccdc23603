using GrpoPipeline.Core;

namespace GrpoPipeline.Inference;

/// <summary>
/// A loaded GRPO policy: what another app calls, for any task. <see cref="OnnxPolicy"/> implements it for one ONNX
/// file; the policy that <see cref="Microsoft.Extensions.DependencyInjection.PolicyServiceCollectionExtensions.AddGrpoPolicy"/>
/// registers implements it over whichever model is current (hot reload); tests implement it with fakes. Every member is
/// safe to call from many threads at once.
/// </summary>
public interface IPolicy
{
    /// <summary>What the model accepts (contract version, tensors, prompt rules, task) and where it came from.</summary>
    PolicyContract Contract { get; }

    /// <summary>The greedy response to one prompt (a decoder's without its EOS).</summary>
    /// <exception cref="ArgumentException">The model does not take the prompt (<see cref="PolicyContract.Problem"/>); the message names the index and value.</exception>
    long[] Respond(ReadOnlySpan<long> prompt);

    /// <summary>
    /// The greedy response to one prompt, awaited: a hosted policy (<c>AddGrpoPolicy</c>) queues it and answers it in a
    /// batch with concurrent calls, without holding a thread while it waits. The default answers on the caller's thread.
    /// </summary>
    /// <exception cref="ArgumentException">The model does not take the prompt.</exception>
    /// <exception cref="PolicyOverloadedException">A hosted policy's queue is full.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired while the call was queued.</exception>
    Task<long[]> RespondAsync(ReadOnlyMemory<long> prompt, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(Respond(prompt.Span));
    }

    /// <summary>Greedy responses to many prompts, in one batched inference.</summary>
    /// <exception cref="ArgumentException">The model does not take a prompt; the message names the row, index and value.</exception>
    long[][] RespondBatch(IReadOnlyList<long[]> prompts);

    /// <summary>
    /// Draws <paramref name="n"/> responses the way the trainer's rollouts do, at <paramref name="temperature"/>;
    /// the same seed gives the same responses.
    /// </summary>
    long[][] Sample(ReadOnlySpan<long> prompt, int n, double temperature = 1.0, ulong seed = 0);

    /// <summary>
    /// The task's reward components for a response to a prompt (<see cref="VerifiableTask.Score"/>), or null when the
    /// model's task is not registered in this process (<see cref="PolicyContract.RewardsUnavailable"/> says why).
    /// </summary>
    /// <exception cref="ArgumentException">The model does not take the prompt, or the response is longer than its responses can be.</exception>
    RewardScore? Score(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response);
}

/// <summary>The reward components of one response, by the task's names (<see cref="VerifiableTask.Components"/>).</summary>
/// <param name="Exact">Whether the response is the right answer (<see cref="VerifiableTask.IsExact"/>).</param>
/// <param name="Components">Each component's value, in the task's order; <c>exact</c> among them as 1 or 0.</param>
public sealed record RewardScore(bool Exact, IReadOnlyDictionary<string, double> Components)
{
    /// <summary>Scores <paramref name="response"/> to <paramref name="prompt"/> with <paramref name="task"/>'s components.</summary>
    public static RewardScore Of(VerifiableTask task, ReadOnlySpan<long> prompt, ReadOnlySpan<long> response)
    {
        var components = task.Components;
        Span<double> values = stackalloc double[components.Count];
        task.Score(prompt, response, values);
        var named = new Dictionary<string, double>(components.Count, StringComparer.Ordinal);
        for (int i = 0; i < components.Count; i++) named[components[i].Name] = values[i];
        return new RewardScore(task.IsExact(prompt, response), named);
    }

    /// <summary>Equal when both say the same about exactness and hold the same components, in the same order, with the same values.</summary>
    public bool Equals(RewardScore? other) =>
        other is not null && Exact == other.Exact && Components.Count == other.Components.Count && Components.SequenceEqual(other.Components);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Exact);
        foreach (var (name, value) in Components) { hash.Add(name); hash.Add(value); }
        return hash.ToHashCode();
    }

    /// <summary>The components as <c>name=value</c> pairs, for logs and test messages.</summary>
    public override string ToString() => $"exact={Exact} " + string.Join(" ", Components.Select(c => FormattableString.Invariant($"{c.Key}={c.Value}")));

    /// <summary>The value of the component called <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">The task has no such component.</exception>
    public double this[string name] => Components[name];
}
