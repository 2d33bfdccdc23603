using GrpoPipeline.Core;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Onnx;

namespace GrpoPipeline.Evaluation;

/// <summary>
/// Greedy responses of an exported factorised policy through ML.NET: <c>MLContext → IDataView → ApplyOnnxModel → cursor</c>,
/// with the column names of <see cref="OnnxContract"/>. Dispose it to release ONNX Runtime's native session.
/// </summary>
/// <remarks>
/// ML.NET's OnnxTransformer runs the model once per row, with the symbolic batch dimension set to 1. Scoring one
/// prompt per row therefore pays a whole session run plus ML.NET's per-row marshalling for every prompt. So a row
/// here holds <see cref="PromptsPerRow"/> prompts as one <c>[K, L]</c> tensor: the shape dictionary tells the
/// transformer the input is <c>[K, L]</c> and the response <c>[K, L]</c>, and each run scores K prompts, as
/// <c>OnnxPolicy.RespondBatch</c> does. The last row is padded with token 0, and its padding responses are dropped.
/// With K = 1 this is the plain one-prompt-per-row pipeline (<c>[VectorType(1, L)]</c>).
/// </remarks>
public sealed class MlNetScorer : IPolicyScorer
{
    /// <summary>Default prompts per ML.NET row: the batch size of the raw ORT comparison.</summary>
    public const int DefaultPromptsPerRow = 1024;

    readonly MLContext _ml = new(seed: 0);
    readonly SchemaDefinition _schema;
    readonly OnnxTransformer _transformer;

    /// <param name="modelPath">An ONNX file already checked against the contract.</param>
    /// <param name="promptLength">The model's L.</param>
    /// <param name="promptsPerRow">Prompts per ML.NET row, K (1 = one prompt per row).</param>
    /// <param name="threads">ONNX Runtime intra-op threads.</param>
    public MlNetScorer(string modelPath, int promptLength, int promptsPerRow = DefaultPromptsPerRow, int threads = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(promptLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(promptsPerRow, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        PromptLength = promptLength;
        PromptsPerRow = promptsPerRow;

        // L is only known at run time, so the vector shape is set on the schema rather than with [VectorType].
        _schema = SchemaDefinition.Create(typeof(PromptRow));
        var tokens = _schema[nameof(PromptRow.Tokens)];
        tokens.ColumnName = OnnxContract.PromptsInput;
        tokens.ColumnType = new VectorDataViewType(NumberDataViewType.Int64, promptsPerRow, promptLength);

        var estimator = _ml.Transforms.ApplyOnnxModel(new OnnxOptions
        {
            ModelFile = modelPath,
            InputColumns = [OnnxContract.PromptsInput],
            // Only the response: the metrics need nothing else, and copying [K, L, V] logits per row would cost more
            // than the model itself.
            OutputColumns = [OnnxContract.ResponseOutput],
            ShapeDictionary = new Dictionary<string, int[]>
            {
                [OnnxContract.PromptsInput] = [promptsPerRow, promptLength],
                [OnnxContract.ResponseOutput] = [promptsPerRow, promptLength],
            },
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
        });
        _transformer = estimator.Fit(_ml.Data.LoadFromEnumerable(Array.Empty<PromptRow>(), _schema));
    }

    /// <summary>Prompt length L.</summary>
    public int PromptLength { get; }
    /// <summary>Prompts per ML.NET row, K.</summary>
    public int PromptsPerRow { get; }
    int IPolicyScorer.PromptsPerBatch => PromptsPerRow;

    /// <summary>
    /// Scores <paramref name="prompts"/> (each of length L, tokens in range) and calls <paramref name="onResponse"/>
    /// once per prompt, in order, while the cursor walks the rows; <paramref name="onBatch"/> gets the prompts scored so
    /// far after each row, and <paramref name="cancellationToken"/> is checked before each row.
    /// </summary>
    public void Score(IReadOnlyList<long[]> prompts, ResponseHandler onResponse, Action<int>? onBatch = null, CancellationToken cancellationToken = default)
    {
        for (int i = 0; i < prompts.Count; i++)
            if (prompts[i].Length != PromptLength)
                throw new ArgumentException($"prompt {i} has length {prompts[i].Length}; the model takes {PromptLength}", nameof(prompts));
        var scored = _transformer.Transform(_ml.Data.LoadFromEnumerable(Rows(prompts), _schema));
        var column = scored.Schema[OnnxContract.ResponseOutput];
        using var cursor = scored.GetRowCursor([column]);
        var getter = cursor.GetGetter<VBuffer<long>>(column);
        VBuffer<long> response = default, dense = default;
        int next = 0, rowSize = PromptsPerRow * PromptLength;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!cursor.MoveNext()) break;
            getter(ref response);
            response.CopyToDense(ref dense);
            var values = dense.GetValues();
            if (values.Length != rowSize)
                throw new InvalidOperationException($"ML.NET returned {values.Length} response tokens for a row of {PromptsPerRow}×{PromptLength}");
            int inRow = Math.Min(PromptsPerRow, prompts.Count - next);
            for (int j = 0; j < inRow; j++) onResponse(next + j, values.Slice(j * PromptLength, PromptLength));
            next += inRow;
            onBatch?.Invoke(next);
        }
        if (next != prompts.Count) throw new InvalidOperationException($"ML.NET scored {next} of {prompts.Count} prompts");
    }

    /// <summary>
    /// Walks the same rows through ML.NET without the ONNX transform, reading every token: the cost of the data
    /// view and cursor alone, for the benchmark's breakdown. Returns the token sum so the work is not optimised away.
    /// </summary>
    internal long CursorOnly(IReadOnlyList<long[]> prompts)
    {
        var data = _ml.Data.LoadFromEnumerable(Rows(prompts), _schema);
        var column = data.Schema[OnnxContract.PromptsInput];
        using var cursor = data.GetRowCursor([column]);
        var getter = cursor.GetGetter<VBuffer<long>>(column);
        VBuffer<long> tokens = default;
        long sum = 0;
        while (cursor.MoveNext())
        {
            getter(ref tokens);
            foreach (var t in tokens.GetValues()) sum += t;
        }
        return sum;
    }

    IEnumerable<PromptRow> Rows(IReadOnlyList<long[]> prompts)
    {
        if (PromptsPerRow == 1)
        {
            foreach (var prompt in prompts) yield return new PromptRow { Tokens = prompt };
            yield break;
        }
        for (int start = 0; start < prompts.Count; start += PromptsPerRow)
        {
            var tokens = new long[PromptsPerRow * PromptLength];   // zero padding: token 0 is valid for every model
            int end = Math.Min(start + PromptsPerRow, prompts.Count);
            for (int i = start; i < end; i++) prompts[i].CopyTo(tokens, (i - start) * PromptLength);
            yield return new PromptRow { Tokens = tokens };
        }
    }

    /// <summary>Releases the transformer's ONNX Runtime session.</summary>
    public void Dispose() => _transformer.Dispose();
}

/// <summary>One ML.NET row: K prompts, row-major [K, L]. Public fields and properties are what ML.NET maps.</summary>
sealed class PromptRow
{
    public long[] Tokens { get; set; } = [];
}
