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

/// <summary>Where the time of ML.NET's one-prompt-per-row evaluation of a factorised policy goes, in microseconds per prompt.</summary>
/// <param name="Total">The whole evaluation, one prompt per row.</param>
/// <param name="OrtRun">ONNX Runtime's Run for one prompt (<see cref="OnnxPolicy.Respond"/>), the floor of any per-row scorer.</param>
/// <param name="Cursor">ML.NET's data view and cursor alone, without the ONNX transform.</param>
/// <param name="Metrics">Scoring the response (<see cref="TaskMetrics.Add"/>).</param>
/// <param name="Transformer">The rest: the OnnxTransformer's per-row marshalling (input tensor, NamedOnnxValue
/// wrappers, output lookup, copy into a VBuffer).</param>
public sealed record PerRowCost(double Total, double OrtRun, double Cursor, double Metrics, double Transformer);

/// <summary>The benchmark's figures.</summary>
/// <param name="DistinctPrompts">Distinct held-out prompts (cycled up to the requested count when the split holds fewer).</param>
/// <param name="Lines">One line per method.</param>
/// <param name="PerRow">The breakdown of a factorised policy's one-prompt-per-row cost; null for a decoder, which has no
/// OnnxTransformer to break down.</param>
public sealed record BenchmarkResult(int DistinctPrompts, IReadOnlyList<BenchmarkLine> Lines, PerRowCost? PerRow);

/// <summary>
/// ML.NET evaluation vs raw <see cref="OnnxPolicy.RespondBatch(IReadOnlyList{long[]})"/> on the same held-out prompts, for
/// a factorised policy (plus the pieces of ML.NET's one-prompt-per-row cost) or a decoder (prompts spread over its lengths).
/// Prints figures, judges nothing.
/// </summary>
public static class ScoringBenchmark
{
    /// <summary>Times every method on <paramref name="count"/> held-out prompts of the model's split.</summary>
    /// <param name="modelPath">An exported factorised policy or decoder with a held-out split in its metadata.</param>
    /// <param name="count">Prompts per method; when the split holds fewer, its prompts are cycled.</param>
    /// <param name="batch">Batch size of raw ORT scoring, and prompts per ML.NET row (decoding call) in the batched run.</param>
    /// <param name="repeats">Timed repeats per method (the best is kept), after one warm-up pass.</param>
    public static BenchmarkResult Run(string modelPath, int count, int batch, int repeats)
    {
        using var policy = OnnxPolicy.Load(modelPath);
        var contract = policy.Contract;
        var split = HeldOutSplit.FromMetadata(contract.Metadata, modelPath);
        // Rejection sampling needs headroom above 2^20 prompts of a length; ask for what the split can give and cycle it.
        var unique = HeldOutSplit.Prompts(split, Math.Min(count, HeldOutSplit.MaxDrawable(split)), split.HeldOutSeed, modelPath);
        if (unique.Count == 0) throw new EvaluationException($"'{modelPath}': its split holds out no prompts");
        var prompts = Enumerable.Range(0, count).Select(i => unique[i % unique.Count]).ToList();
        bool decoder = contract.IsDecoder;
        var task = contract.Task ?? throw new EvaluationException($"'{modelPath}': {contract.RewardsUnavailable}");
        TaskMetrics NewMetrics() => new(task, decoder ? contract.MaxResponseLength : null);

        var lines = new List<(string Method, int Prompts, double Rate)>();
        double raw = Best(repeats, count, () =>
        {
            for (int start = 0; start < count; start += batch)
                policy.RespondBatch(prompts.GetRange(start, Math.Min(batch, count - start)));
        });
        lines.Add(($"raw ORT RespondBatch({batch})", count, raw));

        // One prompt per call: the floor of any one-prompt-per-row scorer. A subset keeps it short; a decoder runs
        // ONNX Runtime once per token, so it gets a smaller one.
        var single = prompts.Take(Math.Min(count, decoder ? 2_000 : 20_000)).ToList();
        lines.Add(("raw ORT Respond (1 prompt per call)", single.Count, Best(repeats, single.Count, () => { foreach (var p in single) policy.Respond(p); })));

        var responses = new List<long[]>(count);
        for (int start = 0; start < count; start += batch)
            responses.AddRange(policy.RespondBatch(prompts.GetRange(start, Math.Min(batch, count - start))));
        lines.Add(("metrics only (TaskMetrics.Add)", count, Best(repeats, count, () =>
        {
            var metrics = NewMetrics();
            for (int i = 0; i < count; i++) metrics.Add(prompts[i], responses[i]);
        })));

        foreach (int k in new[] { 1, batch })
        {
            using var scorer = IPolicyScorer.Create(contract, k, threads: 1);
            var set = k == 1 && decoder ? single : prompts;
            if (scorer is MlNetScorer factorised && k == 1)
                lines.Add(("ML.NET cursor only (1 prompt per row, no ONNX)", count, Best(repeats, count, () => factorised.CursorOnly(prompts))));
            lines.Add(($"ML.NET evaluation ({k} prompt{(k == 1 ? "" : "s")} per {(decoder ? "decoding call" : "row")})", set.Count, Best(repeats, set.Count, () =>
            {
                var metrics = NewMetrics();
                scorer.Score(set, (i, response) => metrics.Add(set[i], response));
            })));
        }
        var result = lines.Select(l => new BenchmarkLine(l.Method, l.Prompts, Math.Round(l.Rate), Math.Round(1e6 / l.Rate, 3), Math.Round(l.Rate / raw, 4))).ToList();
        return new BenchmarkResult(unique.Count, result, decoder ? null : PerRow(lines.Select(l => 1e6 / l.Rate).ToList()));
    }

    /// <summary>A factorised policy's per-row cost from its lines: 0 raw batch, 1 raw single, 2 metrics, 3 cursor only, 4 ML.NET per row, 5 ML.NET packed.</summary>
    static PerRowCost PerRow(IReadOnlyList<double> micros) => new(
        Math.Round(micros[4], 3), Math.Round(micros[1], 3), Math.Round(micros[3], 3), Math.Round(micros[2], 3),
        Math.Round(micros[4] - micros[1] - micros[3] - micros[2], 3));

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
