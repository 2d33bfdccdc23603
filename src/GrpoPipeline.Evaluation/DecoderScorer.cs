using GrpoPipeline.Inference;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace GrpoPipeline.Evaluation;

/// <summary>
/// Greedy responses of an exported <c>decoder/1</c> model through ML.NET:
/// <c>MLContext → IDataView of prompts → <see cref="DecoderTransformer"/> → cursor</c>, K prompts per decoding call.
/// Prompts may have any length the model accepts, mixed in one batch. Dispose it to release ONNX Runtime's session.
/// </summary>
public sealed class DecoderScorer : IPolicyScorer
{
    readonly MLContext _ml = new(seed: 0);
    readonly SchemaDefinition _schema;
    readonly OnnxPolicy _policy;
    readonly DecoderTransformer _transformer;

    /// <param name="modelPath">A <c>decoder/1</c> ONNX file.</param>
    /// <param name="promptsPerBatch">Prompts per decoding call, K.</param>
    /// <param name="threads">ONNX Runtime intra-op threads.</param>
    /// <exception cref="OnnxContractException">Not a GrpoPipeline model.</exception>
    /// <exception cref="ArgumentException">A <c>factorised/1</c> model (use <see cref="MlNetScorer"/>).</exception>
    public DecoderScorer(string modelPath, int promptsPerBatch = MlNetScorer.DefaultPromptsPerRow, int threads = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(promptsPerBatch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        _policy = OnnxPolicy.Load(modelPath, new OnnxPolicyOptions { IntraOpThreads = threads, WarmUp = false });
        try { _transformer = new DecoderTransformer(_policy, promptsPerBatch); }
        catch
        {
            _policy.Dispose();
            throw;
        }
        // Prompts vary in length: a variable-size vector column.
        _schema = SchemaDefinition.Create(typeof(PromptRow));
        var tokens = _schema[nameof(PromptRow.Tokens)];
        tokens.ColumnName = DecoderColumns.Prompt;
        tokens.ColumnType = new VectorDataViewType(NumberDataViewType.Int64);
    }

    /// <summary>The decoder's contract: its prompt lengths, vocabulary and response cap.</summary>
    public PolicyContract Contract => _policy.Contract;
    /// <inheritdoc />
    public int PromptsPerBatch => _transformer.PromptsPerBatch;

    /// <summary>The prompts as an ML.NET data view with one <see cref="DecoderColumns.Prompt"/> column.</summary>
    public IDataView ToDataView(IReadOnlyList<long[]> prompts) => _ml.Data.LoadFromEnumerable(Rows(prompts), _schema);

    /// <summary>The transformer this scorer runs, for pipelines of your own: <c>scorer.Transformer.Transform(scorer.ToDataView(prompts))</c>.</summary>
    public DecoderTransformer Transformer => _transformer;

    /// <inheritdoc />
    public void Score(IReadOnlyList<long[]> prompts, ResponseHandler onResponse, Action<int>? onBatch = null, CancellationToken cancellationToken = default)
    {
        for (int i = 0; i < prompts.Count; i++)
            if (Contract.Prompts.Problem(prompts[i]) is { } problem)
                throw new ArgumentException($"prompt {i}: {problem}", nameof(prompts));
        var scored = _transformer.Transform(ToDataView(prompts));
        var column = scored.Schema[DecoderColumns.Response];
        using var cursor = scored.GetRowCursor([column]);
        var getter = cursor.GetGetter<VBuffer<long>>(column);
        VBuffer<long> response = default;
        int next = 0, batch = PromptsPerBatch;
        while (true)
        {
            // The cursor decodes a batch when it moves onto the batch's first row: check for cancellation before that.
            if (next % batch == 0) cancellationToken.ThrowIfCancellationRequested();
            if (!cursor.MoveNext()) break;
            getter(ref response);
            onResponse(next, response.GetValues());
            next++;
            if (next % batch == 0 || next == prompts.Count) onBatch?.Invoke(next);
        }
        if (next != prompts.Count) throw new InvalidOperationException($"ML.NET scored {next} of {prompts.Count} prompts");
    }

    /// <summary>One row object per enumeration, refilled for each prompt: ML.NET reads a row before it moves on.</summary>
    static IEnumerable<PromptRow> Rows(IReadOnlyList<long[]> prompts)
    {
        var row = new PromptRow();
        foreach (var prompt in prompts)
        {
            row.Tokens = prompt;
            yield return row;
        }
    }

    /// <summary>Releases the policy's ONNX Runtime session.</summary>
    public void Dispose() => _policy.Dispose();
}
