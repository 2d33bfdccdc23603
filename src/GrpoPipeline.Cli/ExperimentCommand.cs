using System.CommandLine;
using GrpoPipeline.Core;
using GrpoPipeline.Evaluation;
using GrpoPipeline.Training;
using GrpoPipeline.Training.Experiments;
using Microsoft.Extensions.Logging;

namespace GrpoPipeline.Cli;

/// <summary>
/// <c>grpo experiment deltas|aggregation|ablation|collapse [--config …] [--seeds N] [--epochs N] [--target 0.99]
/// [--threads N] [--out dir] [--parallel N] [--variants …]</c>: one config trained under the variants of an
/// <see cref="ExperimentCatalogue"/> experiment over several seeds; writes a Markdown table, the raw runs (JSON) and a
/// chart. A stopped experiment started again with the same arguments trains only the runs it lacks.
/// </summary>
static class ExperimentCommand
{
    public static Command Create()
    {
        var command = new Command("experiment", "Compare variants of a config over several seeds.");
        foreach (var experiment in ExperimentCatalogue.Experiments) command.Subcommands.Add(Create(experiment));
        return command;
    }

    static Command Create(ExperimentDefinition experiment)
    {
        string name = experiment.Name;
        var config = new Option<FileInfo>("--config") { Description = "Config to vary.", DefaultValueFactory = _ => new FileInfo(experiment.DefaultConfig) };
        var seedCount = new Option<int>("--seeds") { Description = "Seeds per variant.", DefaultValueFactory = _ => experiment.DefaultSeeds };
        var epochs = new Option<int?>("--epochs") { Description = "Override the config's epochs." };
        var target = new Option<double>("--target") { Description = "Held-out exact match whose time to reach is reported.", DefaultValueFactory = _ => 0.99 };
        var threads = new Option<int?>("--threads") { Description = "Override the config's run.threads (torch intra-op threads)." };
        var output = new Option<DirectoryInfo?>("--out") { Description = $"Output folder (default models/experiments/{name}-<runName>)." };
        var only = new Option<string[]>("--variants") { Description = "Train only these variants, by label (e.g. config none \"− dynamic sampling\").", AllowMultipleArgumentsPerToken = true };
        var parallel = new Option<int>("--parallel") { Description = "Runs trained at the same time, each in its own grpo process with run.threads torch threads; times are then per shared machine.", DefaultValueFactory = _ => 1 };
        var shard = new Option<string?>("--shard") { Description = "i/N: train only the runs whose index is i modulo N and write their run files (what --parallel starts).", Hidden = true };
        var command = new Command(name, experiment.Description) { config, seedCount, epochs, target, threads, output, parallel, only, shard };
        command.SetAction((parse, cancel) => Task.FromResult(Cli.Execute(log =>
        {
            var baseConfig = TrainConfig.Load(parse.GetValue(config)!.FullName);
            if (parse.GetValue(epochs) is { } e) baseConfig = baseConfig with { Epochs = e };
            if (parse.GetValue(threads) is { } t) baseConfig = baseConfig with { Run = baseConfig.Run with { Threads = t } };
            baseConfig.Validate();
            int n = parse.GetValue(seedCount);
            double goal = parse.GetValue(target);
            ConfigException.Require(n is >= 1 and <= 100, "--seeds", n, "1..100");
            ConfigException.Require(goal is > 0 and <= 1, "--target", goal, "0 < target ≤ 1");
            int jobs = parse.GetValue(parallel);
            ConfigException.Require(jobs is >= 1 and <= 64, "--parallel", jobs, "1..64");
            var variants = Pick(experiment.VariantsOf(baseConfig), parse.GetValue(only));
            var myShard = ParseShard(parse.GetValue(shard));
            var dir = parse.GetValue(output)?.FullName ?? Path.GetFullPath(Path.Combine("models", "experiments", $"{name}-{baseConfig.RunName}"));
            Directory.CreateDirectory(dir);

            log.LogInformation("Experiment {Name} on {Run}: {Variants} × {Seeds} seeds × {Epochs} epochs",
                name, baseConfig.RunName, string.Join(", ", variants.Select(v => v.Label)), n, baseConfig.Epochs);
            if (jobs > 1 && myShard is null) TrainShards(parse.Tokens.Select(token => token.Value), jobs, log, cancel);
            if (cancel.IsCancellationRequested) return Stopped(log, dir);
            var runner = new ExperimentRunner
            {
                ExperimentDirectory = dir,
                Shard = myShard ?? ExperimentShard.All,
                Progress = new EveryHundredEpochs(log),
                RunFinished = run => log.LogInformation("{Variant} seed {Seed}: final reward {Reward:F3}, held-out exact {Exact:P1}, {Goal:P0} {Reached}",
                    run.Variant, run.Seed, run.FinalReward, run.FinalHeldOutExact, goal,
                    run.FirstReaching(goal) is { } p ? $"reached at epoch {p.Epoch} ({p.TrainingSeconds:F0} s)" : "not reached"),
            };
            IReadOnlyList<ExperimentRun> runs;
            try { runs = runner.Run(baseConfig, variants, n, cancel); }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested) { return Stopped(log, dir); }
            if (runner.Shard.Count > 1) return Cli.Ok;   // a shard only trains; the process that started it writes the report

            var configPath = Path.GetRelativePath(Environment.CurrentDirectory, parse.GetValue(config)!.FullName);
            var commandLine = $"grpo experiment {name} --config {configPath} --seeds {n} --epochs {baseConfig.Epochs} --target {goal} --threads {baseConfig.Run.Threads}" + (jobs > 1 ? $" --parallel {jobs}" : "") +
                (parse.GetValue(only) is { Length: > 0 } picked ? " --variants " + string.Join(' ', picked.Select(l => l.Contains(' ') ? $"\"{l}\"" : l)) : "");
            var report = new ExperimentReport(experiment, baseConfig, goal, runs, commandLine, jobs);
            report.Write(dir);
            WriteChart(Path.Combine(dir, $"{name}.png"), $"{name}: {baseConfig.RunName}", baseConfig.Epochs, runs);
            Console.WriteLine(report.Table);
            log.LogInformation("Wrote {Dir}/{Name}.md, {Name}.json, {Name}.png", dir, name, name, name);
            return Cli.Ok;
        })));
        return command;
    }

    /// <summary>Ctrl+C or SIGTERM: the run in progress is dropped, the finished ones stay on disk for the same command to reuse.</summary>
    static int Stopped(ILogger log, string dir)
    {
        int kept = Directory.Exists(Path.Combine(dir, ExperimentRunner.RunsFolder))
            ? Directory.GetFiles(Path.Combine(dir, ExperimentRunner.RunsFolder), "*.json").Length : 0;
        log.LogWarning("Stopped; the run in progress is dropped. Finished runs kept in {Runs}: {Kept}; the same command trains only the rest",
            Path.Combine(dir, ExperimentRunner.RunsFolder), kept);
        return Cli.Cancelled;
    }

    /// <summary>The variants named by <c>--variants</c>, in the experiment's order; all of them when none is named.</summary>
    static IReadOnlyList<ExperimentVariant> Pick(IReadOnlyList<ExperimentVariant> variants, string[]? labels)
    {
        if (labels is not { Length: > 0 }) return variants;
        foreach (var label in labels)
            ConfigException.Require(variants.Any(v => v.Label == label), "--variants", label, string.Join(", ", variants.Select(v => $"'{v.Label}'")));
        return variants.Where(v => labels.Contains(v.Label)).ToList();
    }

    static ExperimentShard? ParseShard(string? text)
    {
        if (text is null) return null;
        ConfigException.Require(ExperimentShard.TryParse(text, out var shard), "--shard", text, "i/N with 0 ≤ i < N");
        return shard;
    }

    /// <summary>
    /// <c>--parallel N</c>: N processes of this command, each with <c>--shard i/N</c>, write their run files; the caller
    /// then reads them. Processes, not threads: torch's thread count and global generator are process-wide. A stop
    /// (Ctrl+C, SIGTERM) is passed on to the shards, which drop their runs in progress and keep the finished ones.
    /// </summary>
    static void TrainShards(IEnumerable<string> arguments, int jobs, ILogger log, CancellationToken cancel)
    {
        var children = Enumerable.Range(0, jobs).Select(i => StartShard(arguments, new ExperimentShard(i, jobs))).ToList();
        using (cancel.Register(() => { foreach (var child in children) ChildProcesses.Terminate(child); }))
            foreach (var child in children) child.WaitForExit();
        if (cancel.IsCancellationRequested) return;
        var failed = children.Count(c => c.ExitCode != 0);
        if (failed > 0) log.LogWarning("{Failed} of {Jobs} shards failed; the runs they finished are kept, and this process trains the rest", failed, jobs);
    }

    static System.Diagnostics.Process StartShard(IEnumerable<string> arguments, ExperimentShard shard) =>
        ChildProcesses.StartSelf(arguments.Concat(["--shard", shard.ToString()]));

    /// <summary>The chart: per variant, reward, held-out exact and tied groups over the epochs, one curve per seed.</summary>
    static void WriteChart(string path, string title, int epochs, IReadOnlyList<ExperimentRun> runs)
    {
        var xs = Enumerable.Range(1, epochs).Select(x => (double)x).ToArray();
        var byVariant = runs.GroupBy(r => r.Variant).ToList();
        ExperimentPlot.Write(path, title,
            byVariant.Select(g => new CurveSet(g.Key, xs, g.Select(r => r.RewardCurve).ToArray())).ToList(),
            byVariant.Select(g => new CurveSet(g.Key, g.First().HeldOut.Select(p => (double)p.Epoch).ToArray(), g.Select(r => r.HeldOut.Select(p => p.Exact).ToArray()).ToArray())).ToList(),
            byVariant.Select(g => new CurveSet(g.Key, xs, g.Select(r => r.TiedCurve).ToArray())).ToList());
    }

    /// <summary>A progress line every 100 epochs of a run: experiments take minutes.</summary>
    sealed class EveryHundredEpochs(ILogger log) : IProgress<ExperimentProgress>
    {
        public void Report(ExperimentProgress p)
        {
            if (p.Epoch % 100 == 0 || p.Epoch == p.Epochs)
                log.LogInformation("  {Variant} seed {Seed}: epoch {Epoch}/{Epochs}, held-out exact {Exact:P1}", p.Variant, p.Seed, p.Epoch, p.Epochs, p.HeldOutExact);
        }
    }
}
