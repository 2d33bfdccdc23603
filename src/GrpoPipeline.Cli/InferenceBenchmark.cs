using System.Diagnostics;
using GrpoPipeline.Core;
using GrpoPipeline.Inference;
using GrpoPipeline.Training;
using GrpoPipeline.Training.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace GrpoPipeline.Cli;

/// <summary>
/// The same policy two ways: TorchSharp eval-mode forward vs ONNX Runtime, at one batch size; then single-prompt
/// <see cref="SorterPolicy.Sort"/> latency percentiles. Prints figures, judges nothing.
/// </summary>
static class InferenceBenchmark
{
    public static IEnumerable<object> Run(string checkpointDir, int batch, double seconds)
    {
        using var state = Checkpoint.Load(Checkpoint.Resolve(checkpointDir));
        var model = Path.Combine(Path.GetTempPath(), $"grpo-bench-{Environment.ProcessId}.onnx");
        OnnxExporter.Export(state.Policy, state.Shape, state.Config, state.Epoch, model);
        try
        {
            using var ort = SorterPolicy.Load(model);
            var rng = new Rng(7);
            var prompts = Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, ort.PromptLength).Select(_ => (long)rng.NextInt(ort.VocabSize)).ToArray()).ToList();
            var flat = prompts.SelectMany(p => p).ToArray();

            double torchRate = Rate(seconds, () =>
            {
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                state.Policy.eval();
                state.Policy.forward(tensor(flat, [batch, ort.PromptLength])).argmax(-1).data<long>().ToArray();
            });
            var responses = new long[flat.Length];
            double ortRate = Rate(seconds, () => ort.SortBatch(flat, responses));
            yield return new
            {
                benchmark = "batch_throughput",
                policy = ort.PolicyKind,
                batch,
                torchSharpPromptsPerSecond = Math.Round(torchRate * batch),
                ortPromptsPerSecond = Math.Round(ortRate * batch),
                speedup = Math.Round(ortRate / torchRate, 2),
            };

            var single = prompts[0];
            for (int i = 0; i < 2000; i++) ort.Sort(single);
            var latencies = new List<double>();
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed.TotalSeconds < seconds)
            {
                long start = Stopwatch.GetTimestamp();
                ort.Sort(prompts[latencies.Count % batch]);
                latencies.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
            }
            latencies.Sort();
            yield return new
            {
                benchmark = "sort_latency",
                calls = latencies.Count,
                p50Microseconds = Math.Round(latencies[latencies.Count / 2], 1),
                p99Microseconds = Math.Round(latencies[(int)(latencies.Count * 0.99)], 1),
            };
        }
        finally
        {
            File.Delete(model);
        }
    }

    /// <summary>Calls per second of <paramref name="action"/> after a short warm-up.</summary>
    static double Rate(double seconds, Action action)
    {
        for (int i = 0; i < 20; i++) action();
        int calls = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < seconds) { action(); calls++; }
        return calls / clock.Elapsed.TotalSeconds;
    }
}
