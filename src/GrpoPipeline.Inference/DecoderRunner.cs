using System.Buffers;
using GrpoPipeline.Core;
using Microsoft.ML.OnnxRuntime;

namespace GrpoPipeline.Inference;

/// <summary>
/// Decodes with a <c>decoder/1</c> model: all rows of a batch in lockstep, prompts left-padded to the longest so every
/// row's SEP sits in the same column, one prefill run and then one run per response token. The KV cache lives in two
/// preallocated buffers per layer, key and value: each run reads <c>past</c> from one and writes <c>present</c> into
/// the other, which the next run reads back. A [B, H, T, dh] tensor is contiguous from a buffer's start for any T, so
/// the buffers serve every step without a copy of the cache or an allocation per token. Rows stop at EOS or at the cap
/// of maxLength + 1 tokens, and leave the batch once a quarter of it has stopped (their cache is overwritten by the
/// live rows'), so a short response does not ride along to the longest one's end; the loop ends when every row has stopped.
/// </summary>
/// <remarks>Stateless between calls (every call rents its own buffers), so one runner serves many threads.</remarks>
sealed class DecoderRunner
{
    /// <summary>Rows decoded together: bounds a call's buffers (≈ 75 KB per row for a 2-layer d=64 model of length 8).</summary>
    internal const int MaxRowsPerRun = 1024;

    readonly InferenceSession _session;
    readonly RunOptions _runOptions;
    readonly int _vocab, _layers, _heads, _headDim, _maxResponse, _maxLength;
    readonly bool _fromSep;                   // positions shifted so SEP sits at maxLength (OnnxContract.PositionSchemes)
    readonly SpecialTokens _special;
    readonly string[] _inputNames, _outputNames;

    public DecoderRunner(InferenceSession session, RunOptions runOptions, PolicyContract contract)
    {
        _session = session;
        _runOptions = runOptions;
        _vocab = contract.VocabSize;
        _maxResponse = contract.MaxResponseLength;
        _maxLength = contract.Prompts.MaxLength;
        _fromSep = contract.Positions != OnnxContract.PositionsFromPromptStart;
        _special = SpecialTokens.For(_vocab);
        _heads = (int)contract.Sizes[OnnxContract.HeadsDim];
        _headDim = (int)contract.Sizes[OnnxContract.HeadDim];
        _layers = (contract.Spec.Inputs.Count - 3) / 2;
        _inputNames = contract.Spec.Inputs.Select(i => i.Name).ToArray();
        _outputNames = contract.Spec.Outputs.Select(o => o.Name).ToArray();
    }

    /// <summary>
    /// Responses (without EOS) to <paramref name="prompts"/>, each already checked: greedy when <paramref name="rng"/>
    /// is null, otherwise drawn from softmax(logits / <paramref name="temperature"/>) with it, row by row in order.
    /// </summary>
    public long[][] Decode(IReadOnlyList<long[]> prompts, double temperature, Rng? rng)
    {
        var responses = new long[prompts.Count][];
        for (int start = 0; start < prompts.Count; start += MaxRowsPerRun)
        {
            int rows = Math.Min(MaxRowsPerRun, prompts.Count - start);
            DecodeChunk(prompts, start, rows, temperature, rng, responses);
        }
        return responses;
    }

    void DecodeChunk(IReadOnlyList<long[]> prompts, int first, int rows, double temperature, Rng? rng, long[][] responses)
    {
        int longest = 0;
        for (int b = 0; b < rows; b++) longest = Math.Max(longest, prompts[first + b].Length);
        int width = longest + 1, cap = _maxResponse, outputs = _vocab + 2;
        int capacity = width + cap - 1;                                      // the last token is never fed back
        int cacheSize = rows * _heads * capacity * _headDim;

        var pool = ArrayPool<float>.Shared;
        var longs = ArrayPool<long>.Shared;
        var cache = new float[4 * _layers][];                                // [layer][key, value] × [read, write]
        for (int i = 0; i < cache.Length; i++) cache[i] = pool.Rent(cacheSize);
        var logits = pool.Rent(rows * width * outputs);
        var ids = longs.Rent(rows * width);
        var positions = longs.Rent(rows * width);
        var mask = longs.Rent(rows * capacity);
        var valid = new bool[rows * capacity];                               // [row, column]: a real token is there
        var next = new long[rows];                                           // each row's next position
        var tokens = new List<long>[rows];
        var origin = new int[rows];                                          // each row's prompt, counted from first
        var done = new bool[rows];
        var probabilities = rng is null ? null : new double[outputs];
        var inputValues = new OrtValue[_inputNames.Length];
        var outputValues = new OrtValue[_outputNames.Length];
        try
        {
            // Rows are left-padded to the longest prompt: [PAD … prompt SEP], so every row's SEP sits in the same
            // column. Positions count from each row's first real token (plus maxLength − n for a decoder whose
            // positions count from SEP, so SEP sits at maxLength).
            for (int b = 0; b < rows; b++)
            {
                var prompt = prompts[first + b];
                int pad = width - 1 - prompt.Length, shift = _fromSep ? _maxLength - prompt.Length : 0;
                for (int c = 0; c < width; c++)
                {
                    long token = c < pad ? _special.Pad : c < width - 1 ? prompt[c - pad] : _special.Sep;
                    ids[b * width + c] = token;
                    positions[b * width + c] = Math.Max(0, c - pad) + shift;
                    valid[b * capacity + c] = c >= pad;
                }
                next[b] = prompt.Length + 1 + shift;
                tokens[b] = new List<long>(cap);
                origin[b] = b;
            }
            int stride = Prefill(prompts, first, rows, width, capacity, ids, positions, mask, valid, cache, logits, inputValues, outputValues);

            int length = width, past = 0, read = 1, live = rows, finished = 0;
            while (true)
            {
                int running = 0;
                for (int b = 0; b < live; b++)
                {
                    if (done[b]) continue;                                    // finished, still riding until a compaction
                    var row = logits.AsSpan(b * stride + stride - outputs, outputs);   // each row's last column
                    long token = rng is null ? Greedy(row) : Draw(row, temperature, probabilities!, rng);
                    bool eos = token == _special.Eos;
                    if (!eos) tokens[b].Add(token);
                    if (eos || tokens[b].Count == cap)                        // EOS, or the cap without EOS (truncated)
                    {
                        responses[first + origin[b]] = tokens[b].ToArray();
                        done[b] = true;
                        ids[b] = _special.Pad;
                        finished++;
                        continue;
                    }
                    ids[b] = token;
                    positions[b] = next[b]++;
                    running++;
                }
                if (running == 0) break;
                // Finished rows leave the batch once they are a quarter of it: the live rows' cache moves up over
                // theirs, so later runs compute only live rows. Rows keep their order, so draws keep theirs.
                if (4 * finished >= live)
                {
                    Compact(live, length, capacity, cache, read, ids, positions, valid, next, tokens, origin, done);
                    live = running;
                    finished = 0;
                }
                for (int b = 0; b < live; b++) valid[b * capacity + length] = ids[b] != _special.Pad;
                past = length;
                length++;
                Run(ids, positions, mask, valid, live, 1, past, capacity, cache, read, logits, inputValues, outputValues);
                read ^= 1;
                stride = outputs;
            }
        }
        finally
        {
            foreach (var buffer in cache) pool.Return(buffer);
            pool.Return(logits);
            longs.Return(ids);
            longs.Return(positions);
            longs.Return(mask);
        }
    }

    /// <summary>
    /// A prefill run costs about as much as this many row-columns of work besides its rows' own (measured with
    /// <c>grpo bench inference</c> on a 2-layer d=64 decoder of lengths 1..8: one run per prompt length loses to one
    /// padded run below ~48 rows and wins above).
    /// </summary>
    const int RunCostInColumns = 24;

    /// <summary>
    /// The prefill: writes every row's cache of the <paramref name="width"/> prompt columns into the write buffers
    /// (set 1) and its last column's logits, and returns the logits' row stride. Rows run in groups of consecutive
    /// prompt lengths, each group left-padded only to its own longest prompt, chosen to minimise the padded columns
    /// computed plus <see cref="RunCostInColumns"/> per run: one run for a small or uniform batch, up to one per
    /// length for a large mixed one. A grouped row's cache lands right-aligned, the columns left of its group zeroed
    /// and masked as a padded run's are.
    /// </summary>
    int Prefill(IReadOnlyList<long[]> prompts, int first, int rows, int width, int capacity, long[] ids, long[] positions,
        long[] mask, bool[] valid, float[][] cache, float[] logits, OrtValue[] inputValues, OrtValue[] outputValues)
    {
        int outputs = _vocab + 2;
        var count = new int[width];                                       // rows per prompt length
        for (int b = 0; b < rows; b++) count[prompts[first + b].Length]++;
        // best[j]: the least cost of prefilling every row shorter than j, the last group starting at length from[j]
        // (a group of lengths i..j-1 runs j columns wide; a group without rows costs nothing).
        var best = new long[width + 1];
        var from = new int[width + 1];
        for (int j = 1; j <= width; j++)
        {
            best[j] = long.MaxValue;
            long inGroup = 0;
            for (int i = j - 1; i >= 0; i--)
            {
                inGroup += count[i];
                long cost = best[i] + (inGroup == 0 ? 0 : RunCostInColumns + inGroup * j);
                if (cost < best[j]) { best[j] = cost; from[j] = i; }
            }
        }
        var groups = new List<(int Shortest, int Span)>();
        for (int end = width; end > 0; end = from[end])
        {
            int rowsIn = 0;
            for (int n = from[end]; n < end; n++) rowsIn += count[n];
            if (rowsIn > 0) groups.Add((from[end], end));
        }
        if (groups.Count == 1)
        {
            Run(ids, positions, mask, valid, rows, width, 0, capacity, cache, 0, logits, inputValues, outputValues);
            return width * outputs;
        }

        var pool = ArrayPool<float>.Shared;
        var longs = ArrayPool<long>.Shared;
        var members = new int[rows];
        var groupCache = new float[4 * _layers][];                       // [layer][key, value] × [read (empty), write]
        var groupIds = longs.Rent(rows * width);
        var groupPositions = longs.Rent(rows * width);
        var groupMask = longs.Rent(rows * width);
        var groupValid = new bool[rows * width];
        var groupLogits = pool.Rent(rows * width * outputs);
        for (int kv = 0; kv < 2 * _layers; kv++) groupCache[2 * kv] = groupCache[2 * kv + 1] = pool.Rent(rows * _heads * width * _headDim);
        try
        {
            for (int kv = 0; kv < 2 * _layers; kv++) Array.Clear(cache[2 * kv + 1], 0, rows * _heads * width * _headDim);
            foreach (var (shortest, span) in groups)
            {
                // Prompts of length shortest..span-1 run as [PAD … prompt SEP] rows of span columns: the last span
                // columns of their full-width layout.
                int pad = width - span, group = 0;
                for (int b = 0; b < rows; b++)
                {
                    int n = prompts[first + b].Length;
                    if (n < shortest || n >= span) continue;
                    Array.Copy(ids, b * width + pad, groupIds, group * span, span);
                    Array.Copy(positions, b * width + pad, groupPositions, group * span, span);
                    Array.Copy(valid, b * capacity + pad, groupValid, group * span, span);
                    members[group++] = b;
                }
                Run(groupIds, groupPositions, groupMask, groupValid, group, span, 0, span, groupCache, 0, groupLogits, inputValues, outputValues);
                int block = span * _headDim;                                  // one head's columns of one row
                for (int j = 0; j < group; j++)
                {
                    int b = members[j];
                    for (int kv = 0; kv < 2 * _layers; kv++)
                        for (int h = 0; h < _heads; h++)
                            Array.Copy(groupCache[2 * kv + 1], (j * _heads + h) * block,
                                cache[2 * kv + 1], ((b * _heads + h) * width + pad) * _headDim, block);
                    Array.Copy(groupLogits, (j * span + span - 1) * outputs, logits, b * outputs, outputs);
                }
            }
            return outputs;
        }
        finally
        {
            for (int kv = 0; kv < 2 * _layers; kv++) pool.Return(groupCache[2 * kv + 1]);
            longs.Return(groupIds);
            longs.Return(groupPositions);
            longs.Return(groupMask);
            pool.Return(groupLogits);
        }
    }

    /// <summary>
    /// Moves every live row (not <paramref name="done"/>) up over the finished ones, keeping their order: its
    /// <paramref name="length"/> columns of cache in each layer's current buffer, its validity row and its state.
    /// </summary>
    void Compact(int rows, int length, int capacity, float[][] cache, int read, long[] ids, long[] positions, bool[] valid,
        long[] next, List<long>[] tokens, int[] origin, bool[] done)
    {
        int block = _heads * length * _headDim, to = 0;
        for (int b = 0; b < rows; b++)
        {
            if (done[b]) continue;
            done[to] = false;
            if (to != b)
            {
                for (int kv = 0; kv < 2 * _layers; kv++)
                    Array.Copy(cache[2 * kv + read], b * block, cache[2 * kv + read], to * block, block);
                Array.Copy(valid, b * capacity, valid, to * capacity, length);
                ids[to] = ids[b];
                positions[to] = positions[b];
                next[to] = next[b];
                tokens[to] = tokens[b];
                origin[to] = origin[b];
            }
            to++;
        }
    }

    /// <summary>
    /// One run over the <paramref name="sequence"/> newest columns with <paramref name="past"/> cached ones:
    /// reads the cache from buffer set <paramref name="read"/> and writes the present into the other.
    /// </summary>
    void Run(long[] ids, long[] positions, long[] mask, bool[] valid, int rows, int sequence, int past, int capacity,
        float[][] cache, int read, float[] logits, OrtValue[] inputs, OrtValue[] outputs)
    {
        int total = past + sequence;
        for (int b = 0; b < rows; b++)
            for (int c = 0; c < total; c++) mask[b * total + c] = valid[b * capacity + c] ? 1 : 0;

        var info = OrtMemoryInfo.DefaultInstance;
        try
        {
            inputs[0] = OrtValue.CreateTensorValueFromMemory(info, ids.AsMemory(0, rows * sequence), [rows, sequence]);
            inputs[1] = OrtValue.CreateTensorValueFromMemory(info, mask.AsMemory(0, rows * total), [rows, total]);
            inputs[2] = OrtValue.CreateTensorValueFromMemory(info, positions.AsMemory(0, rows * sequence), [rows, sequence]);
            outputs[0] = OrtValue.CreateTensorValueFromMemory(info, logits.AsMemory(0, rows * sequence * (_vocab + 2)), [rows, sequence, _vocab + 2]);
            for (int kv = 0; kv < 2 * _layers; kv++)
            {
                inputs[3 + kv] = OrtValue.CreateTensorValueFromMemory(info, cache[2 * kv + read].AsMemory(0, rows * _heads * past * _headDim),
                    [rows, _heads, past, _headDim]);
                outputs[1 + kv] = OrtValue.CreateTensorValueFromMemory(info, cache[2 * kv + (read ^ 1)].AsMemory(0, rows * _heads * total * _headDim),
                    [rows, _heads, total, _headDim]);
            }
            _session.Run(_runOptions, _inputNames, inputs, _outputNames, outputs);
        }
        finally
        {
            for (int i = 0; i < inputs.Length; i++) { inputs[i]?.Dispose(); inputs[i] = null!; }
            for (int i = 0; i < outputs.Length; i++) { outputs[i]?.Dispose(); outputs[i] = null!; }
        }
    }

    /// <summary>The first maximal id, as torch.argmax (SEP's logit is −1e9, so it never wins).</summary>
    static long Greedy(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int v = 1; v < logits.Length; v++)
            if (logits[v] > logits[best]) best = v;
        return best;
    }

    static long Draw(ReadOnlySpan<float> logits, double temperature, double[] probabilities, Rng rng)
    {
        OnnxPolicy.Softmax(logits, temperature, probabilities);
        return OnnxPolicy.Draw(probabilities, rng);
    }
}
