namespace GrpoPipeline.Inference;

/// <summary>How <see cref="OnnxPolicy"/> configures its ONNX Runtime session.</summary>
public sealed record OnnxPolicyOptions
{
    /// <summary>Threads one inference may use. Default 1: the policies are small, and callers run in parallel.</summary>
    public int IntraOpThreads { get; init; } = 1;

    /// <summary>
    /// Whether idle ORT worker threads spin waiting for work. Default false, right for a service sharing the machine;
    /// set true for a dedicated batch job with more than one intra-op thread.
    /// </summary>
    public bool AllowSpinning { get; init; }

    /// <summary>Run one inference at load so the first caller does not pay for lazy initialisation. Default true.</summary>
    public bool WarmUp { get; init; } = true;

    /// <summary>Options for an in-process app or service: one thread per call, no spinning.</summary>
    public static OnnxPolicyOptions Default { get; } = new();
}
