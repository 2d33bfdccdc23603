using GrpoPipeline.Core;

namespace GrpoPipeline.Inference.Hosting;

/// <summary>
/// The <see cref="IPolicy"/> that <see cref="Microsoft.Extensions.DependencyInjection.PolicyServiceCollectionExtensions.AddGrpoPolicy"/>
/// registers: every call takes a lease on the host's current model, so a reload is invisible to callers and no call
/// ever meets a disposed session. Greedy single-prompt calls go through the host's batcher (<see cref="BatchingOptions"/>). A call that starts before the first model loads throws
/// <see cref="InvalidOperationException"/>.
/// </summary>
sealed class HotReloadingPolicy(PolicyHost host) : IPolicy
{
    public PolicyContract Contract
    {
        get { using var lease = Acquire(); return lease.Policy.Contract; }
    }

    // Through the host's batcher: concurrent callers share batched inferences.
    public long[] Respond(ReadOnlySpan<long> prompt) => RespondAsync(prompt.ToArray()).GetAwaiter().GetResult();

    public async Task<long[]> RespondAsync(ReadOnlyMemory<long> prompt, CancellationToken cancellationToken = default)
    {
        // Checked here, against the current model, so a bad prompt costs no queueing.
        using (var lease = Acquire())
            if (lease.Policy.Contract.Problem(prompt.Span) is { } problem) throw new ArgumentException(problem, "prompt");
        return (await host.RespondAsync(prompt, cancellationToken).ConfigureAwait(false)).Response;
    }

    public long[][] RespondBatch(IReadOnlyList<long[]> prompts)
    {
        using var lease = Acquire();
        return lease.Policy.RespondBatch(prompts);
    }

    public long[][] Sample(ReadOnlySpan<long> prompt, int n, double temperature = 1.0, ulong seed = 0)
    {
        using var lease = Acquire();
        return lease.Policy.Sample(prompt, n, temperature, seed);
    }

    public RewardScore? Score(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response)
    {
        using var lease = Acquire();
        return lease.Policy.Score(prompt, response);
    }

    PolicyLease Acquire() => host.TryAcquire(out var lease) ? lease : throw PolicyHost.NoModelException(host.ModelPath);
}
