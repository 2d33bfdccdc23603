using GrpoPipeline.Core;

namespace GrpoPipeline.Inference.Hosting;

/// <summary>
/// How a hosted policy gathers concurrent <see cref="IPolicy.Respond"/> calls into one batched inference
/// (<see cref="PolicyModelOptions.Batching"/>, configuration keys <c>Policy:Batching:…</c>). Requests wait in a bounded
/// queue; a worker takes up to <see cref="MaxBatchSize"/> of them at once, waiting at most
/// <see cref="MaxWaitMicroseconds"/> for a batch to fill, and answers them with one <see cref="IPolicy.RespondBatch"/>
/// (a decoder decodes mixed prompt lengths in one loop). Each answer is the one the request would get alone.
/// </summary>
public sealed class BatchingOptions
{
    /// <summary>Gather concurrent calls into batches. Default true; false answers each call on its own thread, as before 0.4.</summary>
    public bool Enabled { get; set; } = true;
    /// <summary>Most requests in one inference. Default 256.</summary>
    public int MaxBatchSize { get; set; } = 256;
    /// <summary>
    /// Longest a worker waits for a batch to fill once a request is queued, in microseconds. Default 0: a worker takes
    /// whatever is queued when it is free, so a lone request is not delayed and batches grow with the load on their own.
    /// </summary>
    public int MaxWaitMicroseconds { get; set; }
    /// <summary>Most requests waiting; one beyond it fails at once with <see cref="PolicyOverloadedException"/> (HTTP 503). Default 4096.</summary>
    public int MaxQueueLength { get; set; } = 4096;
    /// <summary>Batches run at once, each on its own worker thread. Default 1: one batch keeps a core busy, the other cores serve HTTP.</summary>
    public int Workers { get; set; } = 1;

    /// <summary>Throws <see cref="ConfigException"/> naming the first bad key, its value and what is allowed.</summary>
    public void Validate()
    {
        ConfigException.Require(MaxBatchSize is >= 1 and <= 4096, Key(nameof(MaxBatchSize)), MaxBatchSize, "1..4096");
        ConfigException.Require(MaxWaitMicroseconds is >= 0 and <= 1_000_000, Key(nameof(MaxWaitMicroseconds)), MaxWaitMicroseconds, "0..1000000");
        ConfigException.Require(MaxQueueLength is >= 1 and <= 1_000_000, Key(nameof(MaxQueueLength)), MaxQueueLength, "1..1000000");
        ConfigException.Require(Workers is >= 1 and <= 64, Key(nameof(Workers)), Workers, "1..64");
    }

    /// <summary>The configuration key of <paramref name="property"/>, e.g. <c>Policy:Batching:MaxBatchSize</c>.</summary>
    public static string Key(string property) => $"{PolicyModelOptions.Section}:{nameof(PolicyModelOptions.Batching)}:{property}";
}
