using System.Diagnostics;
using GrpoPipeline.Core;
using GrpoPipeline.Inference;
using GrpoPipeline.Training;
using GrpoPipeline.Training.Policies;
using TorchSharp;
using static TorchSharp.torch;

namespace GrpoPipeline.Cli;

/// <summary>
/// The same policy two ways: TorchSharp (<see cref="GrpoPolicy.Greedy"/>: one forward pass for a factorised policy, a
/// KV-cached decode for a decoder) vs the Inference library on ONNX Runtime, greedy, at batch 1 and the given batch and
/// equal thread counts (one, then every core), on prompts of every length of the task in turn; a decoder that GenAI can
/// run (<see cref="GenAiExporter"/>) a third way, ONNX Runtime GenAI's <c>Generator</c> on the exported folder
/// (<see cref="GenAiDecoder"/>), with its responses counted against the Inference library's. Then single-prompt
/// <see cref="OnnxPolicy.Respond"/> latency percentiles. Prints figures, judges nothing.
/// </summary>
static class InferenceBenchmark
{
    public static IEnumerable<object> Run(string checkpointDir, int batch, double seconds)
    {
        using var state = Checkpoint.Load(Checkpoint.Resolve(checkpointDir));
        var model = Path.Combine(Path.GetTempPath(), $"grpo-bench-{Environment.ProcessId}.onnx");
        var genAiFolder = Path.Combine(Path.GetTempPath(), $"grpo-bench-{Environment.ProcessId}-genai");
        OnnxExporter.Export(state.Policy, state.Shape, state.Config, state.Epoch, model);
        using var genAiRuntime = new Microsoft.ML.OnnxRuntimeGenAI.OgaHandle();   // shuts GenAI down when the benchmark ends
        try
        {
            string? genAiSkipped = null;
            if (state.Shape.Options.Kind != PolicyKind.Decoder) genAiSkipped = "not a decoder";
            else
                try { GenAiExporter.FromOnnx(model, genAiFolder); }
                catch (ConfigException e) { genAiSkipped = e.Message; }
            if (genAiSkipped is not null && state.Shape.Options.Kind == PolicyKind.Decoder)
                yield return new { benchmark = "genai", skipped = genAiSkipped };
            foreach (var line in Greedy(state.Policy, state.Task, model, genAiSkipped is null ? genAiFolder : null, batch, seconds)) yield return line;
        }
        finally
        {
            File.Delete(model);
            if (Directory.Exists(genAiFolder)) Directory.Delete(genAiFolder, recursive: true);
        }
    }

    /// <summary>
    /// Greedy prompts/s of the engines at batch 1 and <paramref name="batch"/> (GenAI's on <paramref name="genAiFolder"/>
    /// when there is one), then ORT's single-prompt latency.
    /// </summary>
    static IEnumerable<object> Greedy(GrpoPolicy policy, VerifiableTask task, string model, string? genAiFolder, int batch, double seconds)
    {
        var prompts = MixedPrompts(task, batch);
        int lengths = prompts.Select(p => p.Length).Distinct().Count();
        int torchThreads = torch.get_num_threads();
        foreach (int threads in new[] { 1, Environment.ProcessorCount }.Distinct())
        {
            torch.set_num_threads(threads);
            using var ort = OnnxPolicy.Load(model, new OnnxPolicyOptions { IntraOpThreads = threads });
            using var genAi = genAiFolder is null ? null
                : new GenAiDecoder(genAiFolder, SpecialTokens.For(task.Vocab), ort.Contract.MaxResponseLength, threads);
            foreach (int size in new[] { 1, batch }.Distinct())
            {
                // Batch 1 takes one prompt of each length in turn; the large batch is all prompts at once.
                var batches = (size == 1 ? prompts.Take(lengths).Select(p => new[] { p }.ToList()) : [prompts]).ToList();
                var batchRows = batches.Select(b => TokenRows.From(b, task.Padding)).ToList();
                var torchResponses = batches.Select(b => new TokenRows(b.Count, task.MaxResponseLength, task.Padding)).ToList();
                double torchRate = 0, ortRate = 0, genAiRate = 0;
                int next = 0;
                // Alternating rounds, best round per engine. With glibc's default malloc settings libtorch's rate at
                // batch 1,024 is bimodal (large buffers page-faulted in on every call, or not): up to 2.5x apart
                // between rounds (docs/benchmarks.md gives figures with and without GLIBC_TUNABLES that pin it).
                for (int round = 0; round < Rounds; round++)
                {
                    torchRate = Math.Max(torchRate, Rate(seconds / Rounds, () =>
                    {
                        int k = next++ % batches.Count;
                        policy.Greedy(batchRows[k], torchResponses[k], task.MaxResponseLength);
                    }));
                    ortRate = Math.Max(ortRate, Rate(seconds / Rounds, () =>
                    {
                        int k = next++ % batches.Count;
                        ort.RespondBatch(batches[k]);
                    }));
                    if (genAi is not null)
                        genAiRate = Math.Max(genAiRate, Rate(seconds / Rounds, () =>
                        {
                            int k = next++ % batches.Count;
                            genAi.Respond(batches[k]);
                        }));
                }
                // Both engines' responses to every batch, outside the timing.
                var ortResponses = batches.Select(b => ort.RespondBatch(b)).ToArray();
                for (int k = 0; k < batches.Count; k++) policy.Greedy(batchRows[k], torchResponses[k], task.MaxResponseLength);
                var pairs = Enumerable.Range(0, batches.Count).SelectMany(k =>
                    Enumerable.Range(0, batches[k].Count).Select(i => (Ort: ortResponses[k][i], Torch: torchResponses[k][i].ToArray()))).ToList();
                int identical = pairs.Count(p => p.Ort.AsSpan().SequenceEqual(p.Torch));
                var genAiResponses = genAi is null ? null : batches.SelectMany(b => genAi.Respond(b)).ToList();
                var ortFlat = ortResponses.SelectMany(r => r).ToList();
                int? genAiIdentical = genAiResponses?.Select((r, i) => r.AsSpan().SequenceEqual(ortFlat[i])).Count(same => same);
                yield return new
                {
                    benchmark = "greedy_throughput",
                    policy = ort.Contract.PolicyKind,
                    lengths = $"{prompts.Min(p => p.Length)}..{prompts.Max(p => p.Length)}",
                    batch = size,
                    threads,
                    torchSharpPromptsPerSecond = Math.Round(torchRate * size),
                    ortPromptsPerSecond = Math.Round(ortRate * size),
                    speedup = Math.Round(ortRate / torchRate, 2),
                    meanResponseLength = Math.Round(pairs.Average(p => p.Ort.Length), 2),
                    identicalResponses = $"{identical}/{pairs.Count}",
                    genAiPromptsPerSecond = genAi is null ? (double?)null : Math.Round(genAiRate * size),
                    genAiIdenticalToOrt = genAiIdentical is null ? null : $"{genAiIdentical}/{pairs.Count}",
                };
            }
        }
        torch.set_num_threads(torchThreads);
        yield return Latency(model, prompts, seconds);
    }

    /// <summary>
    /// <paramref name="count"/> of the task's own prompts (random tokens are not prompts of every task: <c>add</c>'s
    /// are digits around a '+'): its held-out prompts, one of each length in turn, each length's repeated when it has
    /// fewer than its share. So a batch mixes the lengths evenly, as a service's would, and its first prompts are one
    /// of each length.
    /// </summary>
    internal static List<long[]> MixedPrompts(VerifiableTask task, int count)
    {
        var byLength = task.HeldOutPrompts(count, seed: 7).GroupBy(p => p.Length).OrderBy(g => g.Key).Select(g => g.ToList()).ToList();
        return Enumerable.Range(0, count).Select(i =>
        {
            var group = byLength[i % byLength.Count];
            return group[i / byLength.Count % group.Count];
        }).ToList();
    }

    /// <summary>Percentiles of single-prompt <see cref="OnnxPolicy.Respond"/> calls over the prompts, in turn.</summary>
    static object Latency(string model, IReadOnlyList<long[]> prompts, double seconds)
    {
        using var ort = OnnxPolicy.Load(model);
        for (int i = 0; i < 2000; i++) ort.Respond(prompts[i % prompts.Count]);
        var latencies = new List<double>();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            long start = Stopwatch.GetTimestamp();
            ort.Respond(prompts[latencies.Count % prompts.Count]);
            latencies.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
        }
        latencies.Sort();
        return new
        {
            benchmark = "respond_latency",
            calls = latencies.Count,
            p50Microseconds = Math.Round(latencies[latencies.Count / 2], 1),
            p99Microseconds = Math.Round(latencies[(int)(latencies.Count * 0.99)], 1),
        };
    }

    const int Rounds = 3;

    /// <summary>Calls per second of <paramref name="action"/> after a warm-up of 20 calls.</summary>
    static double Rate(double seconds, Action action)
    {
        for (int i = 0; i < 20; i++) action();
        int calls = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < seconds) { action(); calls++; }
        return calls / clock.Elapsed.TotalSeconds;
    }
}
