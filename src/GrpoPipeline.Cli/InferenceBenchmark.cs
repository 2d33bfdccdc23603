using System.Diagnostics;
using GrpoPipeline.Core;
using GrpoPipeline.Inference;
using GrpoPipeline.Training;
using GrpoPipeline.Training.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace GrpoPipeline.Cli;

/// <summary>
/// The same policy two ways: TorchSharp eval-mode forward vs ONNX Runtime, at one batch size and equal thread counts
/// (one, then every core); then single-prompt
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
            var rng = new Rng(7);
            int length = state.Shape.PromptLength, vocab = state.Shape.Vocab;
            var prompts = Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, length).Select(_ => (long)rng.NextInt(vocab)).ToArray()).ToList();
            var flat = prompts.SelectMany(p => p).ToArray();
            var responses = new long[batch * state.Shape.ResponseLength];
            int torchThreads = torch.get_num_threads();
            state.Policy.eval();
            // Both engines get the same number of threads: one, then every core.
            foreach (int threads in new[] { 1, Environment.ProcessorCount }.Distinct())
            {
                torch.set_num_threads(threads);
                using var threaded = SorterPolicy.Load(model, new SorterPolicyOptions { IntraOpThreads = threads });
                // Alternating rounds, best round per engine. With glibc's default malloc settings libtorch's rate at
                // batch 1,024 is bimodal (large buffers page-faulted in on every call, or not): up to 2.5x apart
                // between rounds. README "Benchmarks" gives figures with and without GLIBC_TUNABLES that pin it.
                double torchRate = 0, ortRate = 0;
                for (int round = 0; round < Rounds; round++)
                {
                    torchRate = Math.Max(torchRate, Rate(seconds / Rounds, () =>
                    {
                        using var scope = NewDisposeScope();
                        using var _ = no_grad();
                        state.Policy.forward(tensor(flat, [batch, length])).argmax(-1).data<long>().CopyTo(responses);
                    }));
                    ortRate = Math.Max(ortRate, Rate(seconds / Rounds, () => threaded.SortBatch(flat, responses)));
                }
                yield return new
                {
                    benchmark = "batch_throughput",
                    policy = threaded.Contract.PolicyKind,
                    batch,
                    threads,
                    torchSharpPromptsPerSecond = Math.Round(torchRate * batch),
                    ortPromptsPerSecond = Math.Round(ortRate * batch),
                    speedup = Math.Round(ortRate / torchRate, 2),
                };
            }
            torch.set_num_threads(torchThreads);

            using var ort = SorterPolicy.Load(model);
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
