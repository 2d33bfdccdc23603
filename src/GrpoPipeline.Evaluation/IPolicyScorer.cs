using GrpoPipeline.Inference;

namespace GrpoPipeline.Evaluation;

/// <summary>Receives the greedy response to the prompt at <paramref name="index"/>; the span is valid during the call.</summary>
public delegate void ResponseHandler(int index, ReadOnlySpan<long> response);

/// <summary>
/// Greedy responses of one exported model through an ML.NET pipeline, in batches: <see cref="MlNetScorer"/> for a
/// <c>factorised/1</c> model (<c>ApplyOnnxModel</c>, one run per row of K prompts), <see cref="DecoderScorer"/> for a
/// <c>decoder/1</c> model (<see cref="DecoderTransformer"/>, one batched decode per K prompts).
/// <see cref="Create"/> picks by <see cref="PolicyContract.IsDecoder"/>. Dispose it to release the native session.
/// </summary>
public interface IPolicyScorer : IDisposable
{
    /// <summary>Prompts per batch, K: progress is reported and cancellation checked once per batch.</summary>
    int PromptsPerBatch { get; }

    /// <summary>
    /// Scores <paramref name="prompts"/> (each one the model accepts) and calls <paramref name="onResponse"/> once per
    /// prompt, in order, while the cursor walks the rows; <paramref name="onBatch"/> gets the prompts scored so far
    /// after each batch, and <paramref name="cancellationToken"/> is checked before each batch.
    /// </summary>
    /// <exception cref="ArgumentException">A prompt the model does not accept; the message names its index.</exception>
    void Score(IReadOnlyList<long[]> prompts, ResponseHandler onResponse, Action<int>? onBatch = null, CancellationToken cancellationToken = default);

    /// <summary>The scorer for <paramref name="contract"/>'s kind of model.</summary>
    /// <param name="contract">The model's contract, as <see cref="OnnxPolicy.Load"/> checked it.</param>
    /// <param name="promptsPerBatch">Prompts per batch, K.</param>
    /// <param name="threads">ONNX Runtime intra-op threads.</param>
    static IPolicyScorer Create(PolicyContract contract, int promptsPerBatch, int threads) => contract.IsDecoder
        ? new DecoderScorer(contract.Path, promptsPerBatch, threads)
        : new MlNetScorer(contract.Path, contract.Prompts.MaxLength, promptsPerBatch, threads);
}

/// <summary>The responses of a scorer, one array per prompt: for tests and comparisons, not for large prompt sets.</summary>
public static class PolicyScorerExtensions
{
    /// <summary>The greedy responses to <paramref name="prompts"/>, in order.</summary>
    public static long[][] Responses(this IPolicyScorer scorer, IReadOnlyList<long[]> prompts)
    {
        var responses = new long[prompts.Count][];
        scorer.Score(prompts, (i, response) => responses[i] = response.ToArray());
        return responses;
    }
}
