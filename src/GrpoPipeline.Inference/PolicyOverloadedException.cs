namespace GrpoPipeline.Inference;

/// <summary>
/// A call to a hosted policy found its request queue full (<see cref="Hosting.BatchingOptions.MaxQueueLength"/>): it was
/// refused at once rather than left to wait without bound. The HTTP API answers it with 503 and <c>Retry-After</c>.
/// </summary>
public sealed class PolicyOverloadedException(int queueLength, TimeSpan retryAfter)
    : Exception($"the policy's request queue is full ({queueLength} waiting); retry in {retryAfter.TotalSeconds:0.#} s")
{
    /// <summary>Requests waiting when this one was refused.</summary>
    public int QueueLength { get; } = queueLength;
    /// <summary>About when the queue will have drained at the recent rate of answers (at least one second).</summary>
    public TimeSpan RetryAfter { get; } = retryAfter;
}
