using System.Diagnostics;
using GrpoPipeline.Core;
using GrpoPipeline.Inference;
using GrpoPipeline.Training;
using GrpoPipeline.Training.Decoding;
using GrpoPipeline.Training.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace GrpoPipeline.Cli;

/// <summary>
/// The same policy two ways: TorchSharp eval-mode forward vs ONNX Runtime, at one batch size and equal thread counts
/// (one, then every core); then single-prompt
/// <see cref="OnnxPolicy.Respond"/> latency percentiles. A decoder is compared on greedy decoding, both engines with
/// their KV cache: TorchSharp's <see cref="ResponseDecoder"/> and the Inference library's decode loop, at batch 1 and
/// the given batch, on prompts of every length of its task. Prints figures, judges nothing.
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
            if (state.Policy is DecoderPolicy decoder)
            {
                foreach (var line in Decoding(decoder, state.Config.Task, model, batch, seconds)) yield return line;
                yield break;
            }
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
                using var threaded = OnnxPolicy.Load(model, new OnnxPolicyOptions { IntraOpThreads = threads });
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
                    ortRate = Math.Max(ortRate, Rate(seconds / Rounds, () => threaded.RespondBatch(flat, responses)));
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

            yield return Latency(model, prompts, seconds);
        }
        finally
        {
            File.Delete(model);
        }
    }

    /// <summary>Greedy decode prompts/s of both engines at batch 1 and <paramref name="batch"/>, then ORT's single-prompt latency.</summary>
    static IEnumerable<object> Decoding(DecoderPolicy policy, TaskOptions task, string model, int batch, double seconds)
    {
        // Prompts of every length in turn, so a batch mixes lengths as a service's would.
        var rng = new Rng(7);
        int lengths = task.MaxLength - task.MinLength + 1;
        var prompts = Enumerable.Range(0, batch).Select(i =>
            Enumerable.Range(0, task.MinLength + i % lengths).Select(_ => (long)rng.NextInt(task.Vocab)).ToArray()).ToList();
        int torchThreads = torch.get_num_threads();
        policy.eval();
        foreach (int threads in new[] { 1, Environment.ProcessorCount }.Distinct())
        {
            torch.set_num_threads(threads);
            using var ort = OnnxPolicy.Load(model, new OnnxPolicyOptions { IntraOpThreads = threads });
            foreach (int size in new[] { 1, batch }.Distinct())
            {
                // Batch 1 takes one prompt of each length in turn; the large batch is all prompts at once.
                var batches = (size == 1 ? prompts.Take(lengths).Select(p => new[] { p }.ToList()) : [prompts]).ToList();
                var batchRows = batches.Select(b => TokenRows.From(b, task.Special.Pad)).ToList();
                var torchResponses = batches.Select(b => new TokenRows(b.Count, task.MaxResponseLength, task.Special.Pad)).ToList();
                double torchRate = 0, ortRate = 0;
                int next = 0;
                for (int round = 0; round < Rounds; round++)
                {
                    torchRate = Math.Max(torchRate, Rate(seconds / Rounds, () =>
                    {
                        using var scope = NewDisposeScope();
                        int k = next++ % batches.Count;
                        ResponseDecoder.Decode(policy, batchRows[k], 1, task.MaxResponseLength, 1.0, generator: null, torchResponses[k]);
                    }));
                    ortRate = Math.Max(ortRate, Rate(seconds / Rounds, () =>
                    {
                        int k = next++ % batches.Count;
                        ort.RespondBatch(batches[k]);
                    }));
                }
                // Both engines' responses to every batch, outside the timing.
                var ortResponses = batches.Select(b => ort.RespondBatch(b)).ToArray();
                for (int k = 0; k < batches.Count; k++)
                {
                    using var scope = NewDisposeScope();
                    ResponseDecoder.Decode(policy, batchRows[k], 1, task.MaxResponseLength, 1.0, generator: null, torchResponses[k]);
                }
                var pairs = Enumerable.Range(0, batches.Count).SelectMany(k =>
                    Enumerable.Range(0, batches[k].Count).Select(i => (Ort: ortResponses[k][i], Torch: torchResponses[k][i].ToArray()))).ToList();
                int identical = pairs.Count(p => p.Ort.AsSpan().SequenceEqual(p.Torch));
                yield return new
                {
                    benchmark = "decode_throughput",
                    policy = "decoder",
                    lengths = $"{task.MinLength}..{task.MaxLength}",
                    batch = size,
                    threads,
                    torchSharpPromptsPerSecond = Math.Round(torchRate * size),
                    ortPromptsPerSecond = Math.Round(ortRate * size),
                    speedup = Math.Round(ortRate / torchRate, 2),
                    meanResponseLength = Math.Round(pairs.Average(p => p.Ort.Length), 2),
                    identicalResponses = $"{identical}/{pairs.Count}",
                };
            }
        }
        torch.set_num_threads(torchThreads);
        yield return Latency(model, prompts, seconds);
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
            benchmark = "sort_latency",
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
