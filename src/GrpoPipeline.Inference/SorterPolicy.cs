using GrpoPipeline.Core;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace GrpoPipeline.Inference;

/// <summary>
/// A GRPO-trained sorter exported to ONNX. Load it once and share it: every method is safe to call from many threads
/// at once. Dispose it to release the native session.
/// </summary>
/// <example>
/// <code>
/// using var policy = SorterPolicy.Load("models/seed.onnx");
/// long[] sorted = policy.Sort([3, 1, 2]);
/// </code>
/// </example>
public sealed class SorterPolicy : IDisposable
{
    static readonly string[] InputNames = [OnnxContract.PromptsInput];
    static readonly string[] ResponseOnly = [OnnxContract.ResponseOutput];
    static readonly string[] LogitsOnly = [OnnxContract.LogitsOutput];

    readonly InferenceSession _session;
    readonly SessionOptions _sessionOptions;
    readonly RunOptions _runOptions = new();
    volatile bool _disposed;

    SorterPolicy(string path, InferenceSession session, SessionOptions sessionOptions, int promptLength, int vocabSize)
    {
        Path = path;
        _session = session;
        _sessionOptions = sessionOptions;
        PromptLength = promptLength;
        VocabSize = vocabSize;
        Metadata = session.ModelMetadata.CustomMetadataMap.AsReadOnly();
    }

    /// <summary>The file this policy was loaded from.</summary>
    public string Path { get; }
    /// <summary>Prompt and response length L.</summary>
    public int PromptLength { get; }
    /// <summary>Vocabulary size V: tokens are 0..V-1.</summary>
    public int VocabSize { get; }
    /// <summary>The model's metadata_props (keys in <see cref="OnnxContract.Metadata"/>).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>Policy architecture recorded at export, e.g. <c>seed</c>.</summary>
    public string PolicyKind => Metadata.GetValueOrDefault(OnnxContract.Metadata.Policy, "");
    /// <summary>Training run the model was exported from.</summary>
    public string RunName => Metadata.GetValueOrDefault(OnnxContract.Metadata.Run, "");
    /// <summary>Training epoch the model was exported at.</summary>
    public int Epoch => int.TryParse(Metadata.GetValueOrDefault(OnnxContract.Metadata.Epoch), out var e) ? e : 0;

    /// <summary>
    /// Opens the model and checks it against the contract (names, element types, ranks, and the V and L metadata).
    /// </summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="OnnxContractException">Not an ONNX model, or one that breaks the contract; the message says
    /// what was expected and what was found.</exception>
    public static SorterPolicy Load(string path, SorterPolicyOptions? options = null)
    {
        options ??= SorterPolicyOptions.Default;
        if (!File.Exists(path)) throw new FileNotFoundException($"no ONNX model at '{path}'", path);
        var sessionOptions = new SessionOptions
        {
            IntraOpNumThreads = options.IntraOpThreads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        sessionOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", options.AllowSpinning ? "1" : "0");
        InferenceSession session;
        try { session = new InferenceSession(path, sessionOptions); }
        catch (OnnxRuntimeException e)
        {
            sessionOptions.Dispose();
            throw new OnnxContractException($"'{path}' is not a loadable ONNX model: {e.Message}", e);
        }
        try
        {
            var (length, vocab) = ContractCheck.Validate(session, path);
            var policy = new SorterPolicy(path, session, sessionOptions, length, vocab);
            if (options.WarmUp) policy.Sort(new long[length]);
            return policy;
        }
        catch
        {
            session.Dispose();
            sessionOptions.Dispose();
            throw;
        }
    }

    /// <summary>The greedy (argmax) response to one prompt.</summary>
    public long[] Sort(ReadOnlySpan<long> prompt)
    {
        Validate(prompt, 0);
        using var outputs = Run(prompt.ToArray(), 1, ResponseOnly);
        return outputs[0].GetTensorDataAsSpan<long>().ToArray();
    }

    /// <summary>Greedy responses to many prompts in one inference.</summary>
    public long[][] SortBatch(IReadOnlyList<long[]> prompts)
    {
        var flat = Flatten(prompts);
        using var outputs = Run(flat, prompts.Count, ResponseOnly);
        var responses = outputs[0].GetTensorDataAsSpan<long>();
        var result = new long[prompts.Count][];
        for (int b = 0; b < result.Length; b++) result[b] = responses.Slice(b * PromptLength, PromptLength).ToArray();
        return result;
    }

    /// <summary>
    /// Greedy responses to a batch given row-major: <paramref name="prompts"/> is [n, L] and <paramref name="responses"/>
    /// receives [n, L]. No per-prompt arrays: the fastest way to sort many prompts.
    /// </summary>
    public void SortBatch(ReadOnlySpan<long> prompts, Span<long> responses)
    {
        if (prompts.Length == 0 || prompts.Length % PromptLength != 0)
            throw new ArgumentException($"expected a non-empty multiple of {PromptLength} tokens (rows of length L), found {prompts.Length}", nameof(prompts));
        if (responses.Length != prompts.Length)
            throw new ArgumentException($"responses has room for {responses.Length} tokens; {prompts.Length} are needed", nameof(responses));
        int rows = prompts.Length / PromptLength;
        for (int b = 0; b < rows; b++) Validate(prompts.Slice(b * PromptLength, PromptLength), b, rows > 1);
        using var outputs = Run(prompts.ToArray(), rows, ResponseOnly);
        outputs[0].GetTensorDataAsSpan<long>().CopyTo(responses);
    }

    /// <summary>Logits of one prompt, row-major [L, V].</summary>
    public float[] Logits(ReadOnlySpan<long> prompt)
    {
        Validate(prompt, 0);
        using var outputs = Run(prompt.ToArray(), 1, LogitsOnly);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>Logits of many prompts, row-major [batch, L, V].</summary>
    public float[] LogitsBatch(IReadOnlyList<long[]> prompts)
    {
        var flat = Flatten(prompts);
        using var outputs = Run(flat, prompts.Count, LogitsOnly);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>
    /// Draws <paramref name="n"/> responses the way the trainer does: each position independently from
    /// softmax(logits / <paramref name="temperature"/>). The same seed gives the same responses.
    /// </summary>
    public long[][] Sample(ReadOnlySpan<long> prompt, int n, double temperature = 1.0, ulong seed = 0)
    {
        if (n is < 1 or > 4096) throw new ArgumentOutOfRangeException(nameof(n), n, "n must be in 1..4096");
        if (!(temperature is >= 0.01 and <= 100)) throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "temperature must be in 0.01..100");
        var logits = Logits(prompt);
        var probabilities = new double[logits.Length];
        for (int pos = 0; pos < PromptLength; pos++)
            Softmax(logits.AsSpan(pos * VocabSize, VocabSize), temperature, probabilities.AsSpan(pos * VocabSize, VocabSize));
        var rng = new Rng(seed);
        var result = new long[n][];
        for (int i = 0; i < n; i++)
        {
            result[i] = new long[PromptLength];
            for (int pos = 0; pos < PromptLength; pos++)
                result[i][pos] = Draw(probabilities.AsSpan(pos * VocabSize, VocabSize), rng);
        }
        return result;
    }

    /// <summary>The task's rewards for a response to a prompt (<see cref="SortingRewards"/>).</summary>
    public SortScore Score(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response)
    {
        Validate(prompt, 0);
        if (response.Length != PromptLength)
            throw new ArgumentException($"response has length {response.Length}; the model's responses have length {PromptLength}", nameof(response));
        return new SortScore(
            SortingRewards.InclusionOrdering(prompt, response),
            SortingRewards.SortDistance(prompt, response),
            SortingRewards.Exact(prompt, response) == 1);
    }

    IDisposableReadOnlyCollection<OrtValue> Run(long[] flatPrompts, int batch, string[] outputNames)
    {
        // A disposed session's native handle is gone; calling into it would crash the process, not throw.
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var input = OrtValue.CreateTensorValueFromMemory(flatPrompts, [batch, PromptLength]);
        return _session.Run(_runOptions, InputNames, [input], outputNames);
    }

    long[] Flatten(IReadOnlyList<long[]> prompts)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count == 0) throw new ArgumentException("the batch is empty", nameof(prompts));
        var flat = new long[prompts.Count * PromptLength];
        for (int b = 0; b < prompts.Count; b++)
        {
            var prompt = prompts[b] ?? throw new ArgumentException($"prompt {b} is null", nameof(prompts));
            Validate(prompt, b, prompts.Count > 1);
            prompt.CopyTo(flat, b * PromptLength);
        }
        return flat;
    }

    /// <summary>
    /// What is wrong with <paramref name="prompt"/> for this model — its length, or the first token out of range,
    /// naming the index and value — or null when it is fine. The methods that take prompts throw an
    /// <see cref="ArgumentException"/> with this text; callers that must not throw (a service) can ask first.
    /// </summary>
    public string? PromptProblem(ReadOnlySpan<long> prompt)
    {
        if (prompt.Length != PromptLength)
            return $"prompt has length {prompt.Length}; this model takes prompts of length {PromptLength}";
        for (int i = 0; i < prompt.Length; i++)
            if ((ulong)prompt[i] >= (ulong)VocabSize)
                return $"token at index {i} is {prompt[i]}; tokens must be in 0..{VocabSize - 1}";
        return null;
    }

    void Validate(ReadOnlySpan<long> prompt, int row, bool inBatch = false)
    {
        if (PromptProblem(prompt) is { } problem)
            throw new ArgumentException(inBatch ? $"prompt {row}: {problem}" : problem, "prompt");
    }

    static void Softmax(ReadOnlySpan<float> logits, double temperature, Span<double> probabilities)
    {
        double max = double.NegativeInfinity, sum = 0;
        foreach (var l in logits) max = Math.Max(max, l);
        for (int v = 0; v < logits.Length; v++) sum += probabilities[v] = Math.Exp((logits[v] - max) / temperature);
        for (int v = 0; v < logits.Length; v++) probabilities[v] /= sum;
    }

    static long Draw(ReadOnlySpan<double> probabilities, Rng rng)
    {
        double u = (rng.NextUInt64() >> 11) * (1.0 / (1UL << 53)), cumulative = 0;
        for (int v = 0; v < probabilities.Length; v++)
            if (u < (cumulative += probabilities[v])) return v;
        return probabilities.Length - 1;   // rounding left u above the last cumulative sum
    }

    /// <summary>Releases the native session.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _session.Dispose();
        _sessionOptions.Dispose();
        _runOptions.Dispose();
    }
}

/// <summary>Rewards of one response: the lecture's inclusion + ordering, sort distance, and exact match.</summary>
public readonly record struct SortScore(int InclusionOrdering, int SortDistance, bool Exact);
