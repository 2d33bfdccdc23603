using System.Diagnostics;
using GrpoPipeline.Inference;

namespace GrpoPipeline.Evaluation;

/// <summary>Throughput of one way of scoring, best of the repeats.</summary>
/// <param name="Method">What was timed.</param>
/// <param name="Prompts">Prompts per repeat.</param>
/// <param name="PromptsPerSecond">Best throughput over the repeats.</param>
/// <param name="MicrosecondsPerPrompt">1e6 ÷ <paramref name="PromptsPerSecond"/>.</param>
/// <param name="ShareOfRawOrt">Throughput ÷ raw ORT batch throughput.</param>
public sealed record BenchmarkLine(string Method, int Prompts, double PromptsPerSecond, double MicrosecondsPerPrompt, double ShareOfRawOrt);

/// <summary>Where the time of ML.NET's one-prompt-per-row evaluation goes, in microseconds per prompt.</summary>
/// <param name="Total">The whole evaluation, one prompt per row.</param>
/// <param name="OrtRun">ONNX Runtime's Run for one prompt (<see cref="SorterPolicy.Sort"/>), the floor of any per-row scorer.</param>
/// <param name="Cursor">ML.NET's data view and cursor alone, without the ONNX transform.</param>
/// <param name="Metrics">Scoring the response (<see cref="SortMetrics.Add"/>).</param>
/// <param name="Transformer">The rest: the OnnxTransformer's per-row marshalling (input tensor, NamedOnnxValue
/// wrappers, output lookup, copy into a VBuffer).</param>
public sealed record PerRowCost(double Total, double OrtRun, double Cursor, double Metrics, double Transformer);

/// <summary>The benchmark's figures.</summary>
/// <param name="DistinctPrompts">Distinct held-out prompts (cycled up to the requested count when the split holds fewer).</param>
/// <param name="Lines">One line per method.</param>
/// <param name="PerRow">The breakdown of the one-prompt-per-row cost.</param>
public sealed record BenchmarkResult(int DistinctPrompts, IReadOnlyList<BenchmarkLine> Lines, PerRowCost PerRow);

/// <summary>
/// ML.NET evaluation vs raw <see cref="SorterPolicy.SortBatch(IReadOnlyList{long[]})"/> on the same held-out prompts, plus the pieces of
/// ML.NET's one-prompt-per-row cost. Prints figures, judges nothing.
/// </summary>
public static class ScoringBenchmark
{
    /// <summary>Times every method on <paramref name="count"/> held-out prompts of the model's split.</summary>
    /// <param name="modelPath">An exported sorter with a held-out split in its metadata.</param>
    /// <param name="count">Prompts per method; when the split holds fewer, its prompts are cycled.</param>
    /// <param name="batch">Batch size of raw ORT scoring, and prompts per ML.NET row in the packed run.</param>
    /// <param name="repeats">Timed repeats per method (the best is kept), after one warm-up pass.</param>
    public static BenchmarkResult Run(string modelPath, int count, int batch, int repeats)
    {
        using var policy = SorterPolicy.Load(modelPath);
        var split = HeldOutSplit.FromMetadata(policy.Contract.Metadata, modelPath);
        // Rejection sampling needs headroom above 2^20 prompts; ask for what the split can give and cycle it.
        double space = Math.Pow(split.Vocab, split.Length);
        int available = space > 1 << 20 ? (int)Math.Min(count, split.HeldOutFraction * space / 2) : count;
        var unique = HeldOutSplit.Prompts(split, available, split.HeldOutSeed, modelPath);
        if (unique.Count == 0) throw new EvaluationException($"'{modelPath}': its split holds out no prompts");
        var prompts = Enumerable.Range(0, count).Select(i => unique[i % unique.Count]).ToList();
        int length = policy.PromptLength;

        var lines = new List<(string Method, int Prompts, double Rate)>();
        double raw = Best(repeats, count, () =>
        {
            for (int start = 0; start < count; start += batch)
                policy.SortBatch(prompts.GetRange(start, Math.Min(batch, count - start)));
        });
        lines.Add(($"raw ORT SortBatch({batch})", count, raw));

        // Session.Run for one prompt: the floor of any one-prompt-per-row scorer. A subset keeps it short.
        var single = prompts.Take(Math.Min(count, 20_000)).ToList();
        lines.Add(("raw ORT Sort (1 prompt per run)", single.Count, Best(repeats, single.Count, () => { foreach (var p in single) policy.Sort(p); })));

        var responses = new List<long[]>(count);
        for (int start = 0; start < count; start += batch)
            responses.AddRange(policy.SortBatch(prompts.GetRange(start, Math.Min(batch, count - start))));
        lines.Add(("metrics only (SortMetrics.Add)", count, Best(repeats, count, () =>
        {
            var metrics = new SortMetrics(length);
            for (int i = 0; i < count; i++) metrics.Add(prompts[i], responses[i]);
        })));

        foreach (int k in new[] { 1, batch })
        {
            using var scorer = new MlNetScorer(modelPath, length, k);
            if (k == 1)
                lines.Add(("ML.NET cursor only (1 prompt per row, no ONNX)", count, Best(repeats, count, () => scorer.CursorOnly(prompts))));
            lines.Add(($"ML.NET evaluation ({k} prompt{(k == 1 ? "" : "s")} per row)", count, Best(repeats, count, () =>
            {
                var metrics = new SortMetrics(length);
                scorer.Score(prompts, (i, response) => metrics.Add(prompts[i], response));
            })));
        }
        var result = lines.Select(l => new BenchmarkLine(l.Method, l.Prompts, Math.Round(l.Rate), Math.Round(1e6 / l.Rate, 3), Math.Round(l.Rate / raw, 4))).ToList();
        double Micros(int line) => 1e6 / lines[line].Rate;
        // Lines: 0 raw batch, 1 raw single, 2 metrics, 3 cursor only, 4 ML.NET per row, 5 ML.NET packed.
        var perRow = new PerRowCost(Micros(4), Micros(1), Micros(3), Micros(2), Micros(4) - Micros(1) - Micros(3) - Micros(2));
        return new BenchmarkResult(unique.Count, result, perRow with
        {
            Total = Math.Round(perRow.Total, 3), OrtRun = Math.Round(perRow.OrtRun, 3), Cursor = Math.Round(perRow.Cursor, 3),
            Metrics = Math.Round(perRow.Metrics, 3), Transformer = Math.Round(perRow.Transformer, 3),
        });
    }

    /// <summary>Best prompts/s of <paramref name="repeats"/> timed runs after one warm-up run.</summary>
    static double Best(int repeats, int prompts, Action run)
    {
        run();
        double best = 0;
        for (int r = 0; r < repeats; r++)
        {
            long start = Stopwatch.GetTimestamp();
            run();
            best = Math.Max(best, prompts / Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        return best;
    }
}
