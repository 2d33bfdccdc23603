using System.CommandLine;
using System.Text.Json;
using GrpoPipeline.Core;
using GrpoPipeline.Evaluation;
using GrpoPipeline.Training;
using Microsoft.Extensions.Logging;

namespace GrpoPipeline.Cli;

/// <summary>
/// <c>grpo experiment deltas [--config …] [--seeds 5] [--epochs N] [--out dir]</c>: the lecture's comparison of
/// deltas modes, over several seeds; writes a Markdown table, a JSON file and a chart.
/// </summary>
static class ExperimentCommand
{
    public static Command Create()
    {
        var config = new Option<FileInfo>("--config") { Description = "Config to vary.", DefaultValueFactory = _ => new FileInfo("models/configs/seed.json") };
        var seeds = new Option<int>("--seeds") { Description = "Seeds per mode.", DefaultValueFactory = _ => 5 };
        var epochs = new Option<int?>("--epochs") { Description = "Override the config's epochs." };
        var output = new Option<DirectoryInfo?>("--out") { Description = "Output folder (default models/experiments/deltas-<runName>)." };
        var deltas = new Command("deltas", "Train one config under deltas modes rewards, centered, normalized and max.") { config, seeds, epochs, output };
        deltas.SetAction(parse => Cli.Execute(log =>
        {
            var baseConfig = TrainConfig.Load(parse.GetValue(config)!.FullName);
            if (parse.GetValue(epochs) is { } e) baseConfig = baseConfig with { Epochs = e };
            baseConfig.Validate();
            int n = parse.GetValue(seeds);
            if (n is < 1 or > 100) throw new Core.ConfigException("--seeds", $"--seeds {n} is invalid: allowed 1..100");
            var dir = parse.GetValue(output)?.FullName ?? Path.GetFullPath(Path.Combine("models", "experiments", $"deltas-{baseConfig.RunName}"));
            Directory.CreateDirectory(dir);

            log.LogInformation("Deltas experiment on {Run}: {Modes} × {Seeds} seeds × {Epochs} epochs",
                baseConfig.RunName, string.Join(", ", DeltasExperiment.LectureModes), n, baseConfig.Epochs);
            var runs = DeltasExperiment.Run(baseConfig, DeltasExperiment.LectureModes, n, run =>
                log.LogInformation("{Mode} seed {Seed}: final reward {Reward:F3}, held-out exact {Exact:P1}", run.Mode, run.Seed, run.FinalReward, run.HeldOutExact));
            var rows = DeltasExperiment.Summarize(runs);
            var table = DeltasExperiment.ToMarkdown(rows, baseConfig);
            var configPath = Path.GetRelativePath(Environment.CurrentDirectory, parse.GetValue(config)!.FullName);
            var command = $"grpo experiment deltas --config {configPath} --seeds {n} --epochs {baseConfig.Epochs}";
            AtomicFile.WriteAllText(Path.Combine(dir, "deltas.md"), $"# Deltas modes on `{baseConfig.RunName}`\n\nProduced by `{command}`.\n\n{table}");
            AtomicFile.WriteAllText(Path.Combine(dir, "deltas.json"), JsonSerializer.Serialize(new { command, config = baseConfig, rows, runs }, TrainConfig.Json));
            ExperimentPlot.Write(Path.Combine(dir, "deltas.png"), $"Deltas modes: {baseConfig.RunName}",
                runs.GroupBy(r => r.Mode).Select(g => (JsonNamingPolicy.SnakeCaseLower.ConvertName(g.Key.ToString()), g.Select(r => r.RewardCurve).ToArray())).ToList());
            Console.WriteLine(table);
            log.LogInformation("Wrote {Dir}/deltas.md, deltas.json, deltas.png", dir);
            return Cli.Ok;
        }));
        return new Command("experiment", "Reproduce the lecture's experiments.") { deltas };
    }
}
