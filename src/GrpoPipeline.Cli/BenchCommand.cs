using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using GrpoPipeline.Core;
using GrpoPipeline.Training;

namespace GrpoPipeline.Cli;

/// <summary>
/// <c>grpo bench train</c>: steady-state epochs/s of the trainer on two fixed configs. Prints one JSON line per
/// config and judges nothing.
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

    public static Command Create()
    {
        var seconds = new Option<double>("--seconds") { Description = "Measured time per config, after warm-up.", DefaultValueFactory = _ => 10 };
        var warmup = new Option<int>("--warmup") { Description = "Warm-up epochs per config.", DefaultValueFactory = _ => 50 };
        var train = new Command("train", "Benchmark GRPO training epochs/s on the 'seed' and 'scale' configs.") { seconds, warmup };
        train.SetAction(parse => Cli.Execute(_ =>
        {
            foreach (var config in new[] { Seed, Scale })
                Console.WriteLine(JsonSerializer.Serialize(Measure(config, parse.GetValue(warmup), parse.GetValue(seconds))));
            return Cli.Ok;
        }));
        var checkpoint = new Option<DirectoryInfo>("--checkpoint") { Description = "Run directory or checkpoint folder of the policy to measure.", Required = true };
        var batch = new Option<int>("--batch") { Description = "Batch size of the throughput comparison.", DefaultValueFactory = _ => 1024 };
        var inference = new Command("inference", "ORT vs TorchSharp batch throughput, and in-process Sort latency.") { checkpoint, batch, seconds };
        inference.SetAction(parse => Cli.Execute(_ =>
        {
            foreach (var line in InferenceBenchmark.Run(parse.GetValue(checkpoint)!.FullName, parse.GetValue(batch), parse.GetValue(seconds)))
                Console.WriteLine(JsonSerializer.Serialize(line));
            return Cli.Ok;
        }));
        return new Command("bench", "Benchmarks that print figures and judge nothing.") { train, inference };
    }

    static object Measure(TrainConfig config, int warmup, double seconds)
    {
        using var trainer = new GrpoTrainer(TrainingState.Create(config with { Epochs = int.MaxValue / 2 }));
        for (int i = 0; i < warmup; i++) trainer.RunEpoch();
        int epochs = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            trainer.RunEpoch();
            epochs++;
        }
        double elapsed = clock.Elapsed.TotalSeconds;
        return new
        {
            config = config.RunName["bench-".Length..],
            epochs,
            epochsPerSecond = Math.Round(epochs / elapsed, 2),
            samplesPerSecond = Math.Round(epochs * config.SamplesPerEpoch / elapsed, 0),
        };
    }
}
