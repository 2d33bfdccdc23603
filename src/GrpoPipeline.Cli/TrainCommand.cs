using System.CommandLine;
using GrpoPipeline.Core;
using GrpoPipeline.Training;
using Microsoft.Extensions.Logging;

namespace GrpoPipeline.Cli;

/// <summary><c>grpo train --config … [--epochs …] [--run-dir …] [--seed …] [--resume] [--supervise [--max-restarts N]]</c></summary>
static class TrainCommand
{
    public static Command Create()
    {
        var config = new Option<FileInfo?>("--config") { Description = "Training config JSON (models/configs/*.json). Optional with --resume." };
        var epochs = new Option<int?>("--epochs") { Description = "Override the number of epochs (with --resume: train up to this epoch)." };
        var runDir = new Option<DirectoryInfo?>("--run-dir") { Description = "Run directory (default models/runs/<runName>)." };
        var seed = new Option<long?>("--seed") { Description = "Override the seed." };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in the run directory from its latest checkpoint." };
        var supervise = new Option<bool>("--supervise")
        {
            Description = "Train in a child process and resume it from its last good checkpoint if it dies abnormally (a signal, a native crash, the OOM killer). Ctrl+C still stops it.",
        };
        var maxRestarts = new Option<int>("--max-restarts") { Description = "With --supervise: restarts before giving up.", DefaultValueFactory = _ => 5 };
        var command = new Command("train", "Train a policy with GRPO; prints the run directory.") { config, epochs, runDir, seed, resume, supervise, maxRestarts };
        command.SetAction((parse, cancel) => Task.FromResult(Cli.Execute(log => Run(
            parse.GetValue(config)?.FullName, parse.GetValue(epochs), parse.GetValue(runDir)?.FullName,
            parse.GetValue(seed), parse.GetValue(resume), parse.GetValue(supervise) ? parse.GetValue(maxRestarts) : null, log, cancel))));
        return command;
    }

    static int Run(string? configPath, int? epochs, string? runDir, long? seed, bool resume, int? maxRestarts, ILogger log, CancellationToken cancel)
    {
        TrainConfig? config = null;
        if (configPath is not null)
        {
            config = TrainConfig.Load(configPath);
            config = config with { Epochs = epochs ?? config.Epochs, Seed = seed ?? config.Seed };
            config.Validate();
        }
        else if (!resume)
            throw new ConfigException("--config", "--config is required to start a run (or pass --resume with --run-dir)");
        else if (runDir is null)
            throw new ConfigException("--run-dir", "--resume without --config needs --run-dir to find the run");

        var directory = new RunDirectory(runDir ?? RunDirectory.DefaultFor(config!.RunName));
        if (maxRestarts is { } restarts)
        {
            if (restarts < 0) throw new ConfigException("--max-restarts", $"--max-restarts must be ≥ 0, got {restarts}");
            List<string> args = ["train", "--run-dir", directory.Root];
            if (configPath is not null) args.AddRange(["--config", configPath]);
            if (epochs is { } e) args.AddRange(["--epochs", e.ToString()]);
            if (seed is { } s) args.AddRange(["--seed", s.ToString()]);
            if (resume) args.Add("--resume");
            return Supervisor.Run(args, directory, freshRun: !resume, epochs, restarts, log, cancel);
        }
        using var run = resume ? ResumeCompatible(directory, config, epochs, seed, log) : TrainingRun.StartNew(config!, directory, log);
        var last = run.Train(cancel);
        if (cancel.IsCancellationRequested) return Cli.Cancelled;
        WritePlot(directory, log);
        if (last is not null && last.TryGet(MetricKeys.HeldOutExact, out var exact))
            log.LogInformation("Done: epoch {Epoch}, mean reward {Reward:F3}, held-out exact {Exact:P1}", last.Epoch, last[MetricKeys.RewardMean], exact);
        log.LogInformation("Run directory: {RunDirectory}", directory.Root);
        return Cli.Ok;
    }

    /// <summary>training.png from metrics.jsonl; a plotting failure is logged, never fails a finished run.</summary>
    static void WritePlot(RunDirectory directory, ILogger log)
    {
        try { log.LogInformation("Training curves: {Png}", GrpoPipeline.Evaluation.TrainingPlot.Write(directory.Root)); }
        catch (Exception e) { log.LogWarning("Could not write training.png: {Message}", e.Message); }
    }

    /// <summary>Resumes with the checkpoint's config; a given --config or --seed must agree with it.</summary>
    static TrainingRun ResumeCompatible(RunDirectory directory, TrainConfig? config, int? epochs, long? seed, ILogger log)
    {
        directory.RecoverCheckpoints();   // a run killed mid-checkpoint leaves hidden leftovers
        var (checkpoint, manifest) = Checkpoint.NewestGood(directory, warning => log.LogWarning("{Warning}", warning));
        var saved = manifest.Config;
        if (seed is { } s && s != saved.Seed)
            throw new RunDirectoryException($"cannot resume with --seed {s}: the run was trained with seed {saved.Seed}");
        if (config is not null && (config with { Epochs = saved.Epochs }).ToJson() != saved.ToJson())
            throw new RunDirectoryException($"cannot resume: --config differs from the config saved in {checkpoint} (only --epochs may change on resume)");
        return TrainingRun.Resume(directory, epochs, log);
    }
}
