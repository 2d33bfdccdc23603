using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using GrpoPipeline.Core;
using GrpoPipeline.Training;

namespace GrpoPipeline.Cli;

/// <summary>
/// <c>grpo bench train</c>: epochs/s of the trainer on fixed configs (the decoder's twice: with the KV cache and
/// recomputing the prefix at every decode step). Prints one JSON line per measurement and judges nothing.
/// </summary>
static class BenchCommand
{
    /// <summary>3 fixed prompts, G=10, μ=10, clipped, k3 with β=0.01, refPeriod=10, D=10, lr=1e-3.</summary>
    public static TrainConfig Seed => new() { RunName = "bench-seed", Task = new TaskOptions { HeldOutSize = 0 } };

    /// <summary>The same with random prompts B=256, G=16, L=8, V=16, D=32.</summary>
    public static TrainConfig Scale => Seed with
    {
        RunName = "bench-scale",
        Task = new TaskOptions { Kind = TaskKind.Random, BatchSize = 256, PromptLength = 8, VocabSize = 16, HeldOutSize = 0 },
        Grpo = new GrpoOptions { GroupSize = 16 },
        Policy = new PolicyOptions { EmbeddingDim = 32 },
    };

    /// <summary>
    /// Variable-length prompts of 1..8 tokens over V=16, B=64, G=16, μ=2, a decoder of d=64 with 2 layers, 4 heads and
    /// an MLP of 256; clipped (ε 0.2), centered deltas, sequence_mean, no KL, sort-distance reward, grad-norm 1.
    /// </summary>
    public static TrainConfig Decoder => new()
    {
        RunName = "bench-decoder",
        Task = new TaskOptions { Kind = TaskKind.Variable, MinLength = 1, MaxLength = 8, VocabSize = 16, BatchSize = 64, HeldOutSize = 0 },
        Rewards = new RewardWeights { { "inclusionOrdering", 0 }, { "sortDistance", 1 } },
        Policy = new PolicyOptions { Kind = PolicyKind.Decoder, DModel = 64, Heads = 4, Layers = 2, MlpDim = 256 },
        Grpo = new GrpoOptions { GroupSize = 16, InnerSteps = 2, ClipLow = 0.2, ClipHigh = 0.2, KlCoef = 0, MaxGradNorm = 1 },
    };

    public static Command Create()
    {
        var seconds = new Option<double>("--seconds") { Description = "Measured time per config, after warm-up.", DefaultValueFactory = _ => 10 };
        var warmup = new Option<int>("--warmup") { Description = "Warm-up epochs per config.", DefaultValueFactory = _ => 50 };
        var configs = new Option<string[]>("--config") { Description = "Configs to measure: seed, scale, decoder (default all).", DefaultValueFactory = _ => ["seed", "scale", "decoder"], AllowMultipleArgumentsPerToken = true };
        var threads = new Option<int>("--threads") { Description = "torch intra-op threads (run.threads).", DefaultValueFactory = _ => 1 };
        var train = new Command("train", "Benchmark GRPO training epochs/s on the 'seed', 'scale' and 'decoder' configs.") { seconds, warmup, configs, threads };
        train.SetAction(parse => Cli.Execute(_ =>
        {
            int threadCount = parse.GetValue(threads);
            ConfigException.Require(threadCount is >= 1 and <= 256, "--threads", threadCount, "1..256");
            foreach (var name in parse.GetValue(configs)!)
            {
                var config = name switch
                {
                    "seed" => Seed,
                    "scale" => Scale,
                    "decoder" => Decoder,
                    _ => throw new ConfigException("--config", $"--config '{name}' is invalid: allowed seed, scale, decoder"),
                };
                config = config with { Run = config.Run with { Threads = threadCount } };
                foreach (bool kvCache in config.Policy.Kind == PolicyKind.Decoder ? new[] { true, false } : [true])
                    Console.WriteLine(JsonSerializer.Serialize(Measure(config, parse.GetValue(warmup), parse.GetValue(seconds), kvCache)));
            }
            return Cli.Ok;
        }));
        var checkpoint = new Option<DirectoryInfo>("--checkpoint") { Description = "Run directory or checkpoint folder of the policy to measure.", Required = true };
        var batch = new Option<int>("--batch") { Description = "Batch size of the throughput comparison.", DefaultValueFactory = _ => 1024 };
        var inference = new Command("inference", "ORT vs TorchSharp (and ONNX Runtime GenAI on decoders) greedy throughput, and in-process Respond latency.") { checkpoint, batch, seconds };
        inference.SetAction(parse => Cli.Execute(_ =>
        {
            foreach (var line in InferenceBenchmark.Run(parse.GetValue(checkpoint)!.FullName, parse.GetValue(batch), parse.GetValue(seconds)))
                Console.WriteLine(JsonSerializer.Serialize(line));
            return Cli.Ok;
        }));
        return new Command("bench", "Benchmarks that print figures and judge nothing.") { train, inference };
    }

    static object Measure(TrainConfig config, int warmup, double seconds, bool kvCache)
    {
        using var trainer = new GrpoTrainer(TrainingState.Create(config with { Epochs = int.MaxValue / 2 })) { DecodeWithKvCache = kvCache };
        for (int i = 0; i < warmup; i++) trainer.RunEpoch();
        int epochs = 0;
        double responseTokens = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            var metrics = trainer.RunEpoch();
            // Response tokens an epoch generated (EOS included); a factorised policy answers L tokens per response.
            responseTokens += config.SamplesPerEpoch * (metrics.TryGet(MetricKeys.ResponseLengthMean, out var length) ? length : config.Task.MaxResponseLength);
            epochs++;
        }
        double elapsed = clock.Elapsed.TotalSeconds;
        return new
        {
            config = config.RunName["bench-".Length..],
            kvCache = config.Policy.Kind == PolicyKind.Decoder ? kvCache : (bool?)null,
            threads = config.Run.Threads,
            epochs,
            epochsPerSecond = Math.Round(epochs / elapsed, 2),
            samplesPerSecond = Math.Round(epochs * config.SamplesPerEpoch / elapsed, 0),
            responseTokensPerSecond = Math.Round(responseTokens / elapsed, 0),
            meanResponseLength = Math.Round(responseTokens / Math.Max(1, epochs * config.SamplesPerEpoch), 2),
        };
    }
}
