using GrpoPipeline.Core;
using GrpoPipeline.Inference;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace GrpoPipeline.Evaluation;

/// <summary>The columns <see cref="DecoderTransformer"/> reads and adds.</summary>
public static class DecoderColumns
{
    /// <summary>Input: the prompt, a vector of Int64 tokens of any length (the factorised pipeline's prompt column name).</summary>
    public const string Prompt = OnnxContract.PromptsInput;
    /// <summary>The greedy response without EOS, a vector of Int64 of any length (the factorised pipeline's response column name).</summary>
    public const string Response = OnnxContract.ResponseOutput;
    /// <summary>Tokens in the response, Int32.</summary>
    public const string ResponseLength = "responseLength";
    /// <summary>Whether the response was cut at its longest before EOS, Boolean.</summary>
    public const string Truncated = "truncated";
    /// <summary>Whether the response is the right answer, Boolean (<see cref="RewardScore.Exact"/>); only when the task is known.</summary>
    public const string Exact = "exact";
    /// <summary>
    /// The column of the task's reward component <paramref name="component"/>, Double: <c>reward.sortDistance</c>; one per
    /// component (<see cref="VerifiableTask.Components"/>), only when the task is known.
    /// </summary>
    public static string Reward(string component) => RewardPrefix + component;

    const string RewardPrefix = "reward.";
    internal static bool IsScore(string column) => column == Exact || column.StartsWith(RewardPrefix, StringComparison.Ordinal);
}

/// <summary>
/// An ML.NET transformer that decodes with a <c>decoder/1</c> model. <c>ApplyOnnxModel</c> runs a graph once per row,
/// so it cannot loop over tokens; this transformer's cursor instead reads the prompts of K rows ahead, decodes them in
/// one <see cref="IPolicy.RespondBatch(IReadOnlyList{long[]})"/> call (one batched loop with the KV cache), and
/// serves the K rows from that batch. The output is the input's columns, then those of <see cref="DecoderColumns"/>:
/// the response, its length, whether it was truncated, and — when the model's task is registered — whether it is exact
/// and each reward component of the task (<see cref="RewardScore.Of"/>).
/// </summary>
/// <remarks>
/// Decoding runs only when a cursor asks for an added column. Each cursor has its own batch buffers and the policy is
/// thread-safe, so cursors may run in parallel. Not a row-to-row mapper (a row's response comes from its batch), and
/// not saved with an ML.NET model: keep the ONNX file, which is the model.
/// </remarks>
public sealed class DecoderTransformer : ITransformer
{
    readonly (string Name, DataViewType Type)[] _added;

    /// <param name="policy">A loaded <c>decoder/1</c> policy; the caller keeps it alive while the transformer is used.</param>
    /// <param name="promptsPerBatch">Prompts per decoding call, K.</param>
    /// <param name="promptColumn">The input column of prompts.</param>
    public DecoderTransformer(IPolicy policy, int promptsPerBatch, string promptColumn = DecoderColumns.Prompt)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentOutOfRangeException.ThrowIfLessThan(promptsPerBatch, 1);
        if (!policy.Contract.IsDecoder)
            throw new ArgumentException($"'{policy.Contract.Path}' is {policy.Contract.Version}; {nameof(DecoderTransformer)} needs {OnnxContract.DecoderVersion} (score factorised policies with ApplyOnnxModel)", nameof(policy));
        Policy = policy;
        var scores = policy.Contract.Task is { } task
            ? [(DecoderColumns.Exact, BooleanDataViewType.Instance), .. task.Components.Select(c => (DecoderColumns.Reward(c.Name), (DataViewType)NumberDataViewType.Double))]
            : Array.Empty<(string, DataViewType)>();
        _added =
        [
            (DecoderColumns.Response, new VectorDataViewType(NumberDataViewType.Int64)),
            (DecoderColumns.ResponseLength, NumberDataViewType.Int32),
            (DecoderColumns.Truncated, BooleanDataViewType.Instance),
            .. scores,
        ];
        PromptsPerBatch = promptsPerBatch;
        PromptColumn = promptColumn;
    }

    /// <summary>The decoder.</summary>
    public IPolicy Policy { get; }
    /// <summary>Prompts per decoding call, K.</summary>
    public int PromptsPerBatch { get; }
    /// <summary>The input column of prompts.</summary>
    public string PromptColumn { get; }

    /// <inheritdoc />
    public bool IsRowToRowMapper => false;

    /// <inheritdoc />
    /// <exception cref="ArgumentException">No prompt column, or one that is not a vector of Int64.</exception>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        var prompt = inputSchema.GetColumnOrNull(PromptColumn)
            ?? throw new ArgumentException($"the input has no column '{PromptColumn}' of prompts", nameof(inputSchema));
        if (prompt.Type is not VectorDataViewType { ItemType: var item } || item != NumberDataViewType.Int64)
            throw new ArgumentException($"column '{PromptColumn}' is {prompt.Type}; prompts must be a vector of Int64", nameof(inputSchema));
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        foreach (var (name, type) in _added) builder.AddColumn(name, type);
        return builder.ToSchema();
    }

    /// <inheritdoc />
    public IDataView Transform(IDataView input) => new DecodedView(this, input, GetOutputSchema(input.Schema));

    /// <summary>Not supported: a row's response is decoded with its batch.</summary>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) =>
        throw new NotSupportedException($"{nameof(DecoderTransformer)} decodes K rows at a time; use {nameof(Transform)}");

    void ICanSaveModel.Save(ModelSaveContext ctx) =>
        throw new NotSupportedException($"{nameof(DecoderTransformer)} is not saved with an ML.NET model; keep the ONNX file and build the transformer from it");

    sealed class DecodedView(DecoderTransformer transformer, IDataView input, DataViewSchema schema) : IDataView
    {
        public bool CanShuffle => false;
        public DataViewSchema Schema => schema;
        public long? GetRowCount() => input.GetRowCount();

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
            new Cursor(transformer, input, schema, columnsNeeded);

        // One cursor: rows are decoded in batches, and order matters to the caller.
        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
            [GetRowCursor(columnsNeeded, rand)];
    }

    /// <summary>
    /// Walks the input with two cursors: <c>_input</c> is the row being served (its columns pass through), and
    /// <c>_ahead</c> reads only the prompts, one batch ahead of it.
    /// </summary>
    sealed class Cursor : DataViewRowCursor
    {
        readonly IPolicy _policy;
        readonly DataViewSchema _schema;
        readonly int _inputColumns, _batchSize, _maxLength;
        readonly DataViewRowCursor _input;
        readonly DataViewRowCursor? _ahead;
        readonly ValueGetter<VBuffer<long>>? _aheadPrompt;
        readonly long[][] _prompts;
        readonly long[]?[][] _promptArrays;                  // [length][slot]: reused prompt arrays, no allocation per row
        readonly RewardScore[] _scores;
        readonly bool[] _active;
        readonly bool _scoresActive;
        VBuffer<long> _promptBuffer;
        long[][] _responses = [];
        int _row, _rows;                                     // the row served within the batch, and the batch's size
        long _position = -1, _batchStart;

        public Cursor(DecoderTransformer transformer, IDataView input, DataViewSchema schema, IEnumerable<DataViewSchema.Column> columnsNeeded)
        {
            _policy = transformer.Policy;
            _schema = schema;
            _inputColumns = input.Schema.Count;
            _batchSize = transformer.PromptsPerBatch;
            _maxLength = _policy.Contract.Prompts.MaxLength;
            var needed = columnsNeeded.ToArray();
            _active = new bool[schema.Count];
            foreach (var column in needed) _active[column.Index] = true;
            _scoresActive = needed.Any(c => c.Index >= _inputColumns && DecoderColumns.IsScore(c.Name));
            _input = input.GetRowCursor(needed.Where(c => c.Index < _inputColumns).Select(c => input.Schema[c.Index]));
            if (_active.Skip(_inputColumns).Any(a => a))
            {
                var prompt = input.Schema[transformer.PromptColumn];
                _ahead = input.GetRowCursor([prompt]);
                _aheadPrompt = _ahead.GetGetter<VBuffer<long>>(prompt);
            }
            _prompts = new long[_batchSize][];
            _promptArrays = new long[]?[_maxLength + 1][];
            _scores = new RewardScore[_batchSize];
        }

        public override DataViewSchema Schema => _schema;
        public override long Position => _position;
        public override long Batch => 0;

        public override bool MoveNext()
        {
            if (_ahead is not null && ++_row >= _rows)
            {
                if (!DecodeNextBatch()) return false;
                _row = 0;
            }
            if (!_input.MoveNext())
            {
                if (_ahead is null) return false;
                throw new InvalidOperationException("the input ended before the prompts read ahead of it");
            }
            _position++;
            return true;
        }

        /// <summary>Reads up to K prompts ahead and decodes them in one call; false at the end of the input.</summary>
        bool DecodeNextBatch()
        {
            _batchStart = _position + 1;
            int rows = 0;
            while (rows < _batchSize && _ahead!.MoveNext())
            {
                _aheadPrompt!(ref _promptBuffer);
                int length = _promptBuffer.Length;
                // A prompt of a length the model does not take gets its own array, and RespondBatch's message.
                var prompt = length <= _maxLength ? (_promptArrays[length] ??= new long[_batchSize][])[rows] ??= new long[length] : new long[length];
                _promptBuffer.CopyTo(prompt);                 // dense, whatever the buffer's representation
                _prompts[rows++] = prompt;
            }
            if (rows == 0) return false;
            _rows = rows;
            try { _responses = _policy.RespondBatch(new ArraySegment<long[]>(_prompts, 0, rows)); }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"rows {_batchStart}..{_batchStart + rows - 1}: {e.Message}", e);
            }
            if (_scoresActive)
                for (int b = 0; b < rows; b++) _scores[b] = _policy.Contract.Rewards(_prompts[b], _responses[b])!;   // RespondBatch checked the prompts
            return true;
        }

        public override bool IsColumnActive(DataViewSchema.Column column) => _active[column.Index];

        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index < _inputColumns) return _input.GetGetter<TValue>(_input.Schema[column.Index]);
            if (!_active[column.Index]) throw new InvalidOperationException($"column '{column.Name}' was not requested from this cursor");
            Delegate getter = column.Name switch
            {
                DecoderColumns.Response => (ValueGetter<VBuffer<long>>)((ref VBuffer<long> value) =>
                {
                    var response = _responses[_row];
                    var editor = VBufferEditor.Create(ref value, response.Length);
                    response.CopyTo(editor.Values);
                    value = editor.Commit();
                }),
                DecoderColumns.ResponseLength => (ValueGetter<int>)((ref int value) => value = _responses[_row].Length),
                DecoderColumns.Truncated => (ValueGetter<bool>)((ref bool value) => value = _policy.Contract.IsTruncated(_responses[_row])),
                DecoderColumns.Exact => (ValueGetter<bool>)((ref bool value) => value = _scores[_row].Exact),
                _ when DecoderColumns.IsScore(column.Name) => RewardGetter(column.Name[DecoderColumns.Reward("").Length..]),
                _ => throw new ArgumentOutOfRangeException(nameof(column), column.Name, "not a column of this transformer"),
            };
            return getter as ValueGetter<TValue>
                ?? throw new InvalidOperationException($"column '{column.Name}' is {column.Type}, not {typeof(TValue).Name}");
        }

        ValueGetter<double> RewardGetter(string component) => (ref double value) => value = _scores[_row][component];

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _input.Dispose();
                _ahead?.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
