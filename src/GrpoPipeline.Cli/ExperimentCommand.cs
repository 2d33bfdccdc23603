using System.CommandLine;
using System.Text.Json;
using GrpoPipeline.Core;
using GrpoPipeline.Evaluation;
using GrpoPipeline.Training;
using Microsoft.Extensions.Logging;

namespace GrpoPipeline.Cli;

/// <summary>
/// <c>grpo experiment deltas|aggregation [--config …] [--seeds N] [--epochs N] [--target 0.99] [--out dir]</c>: one
/// config trained under several variants over several seeds; writes a Markdown table, the raw runs (JSON) and a chart.
/// </summary>
static class ExperimentCommand
{
    public static Command Create() => new("experiment", "Compare variants of a config over several seeds.")
    {
        Variants("deltas", "Train one config under the lecture's deltas modes: rewards, centered, normalized and max.",
            "models/configs/seed.json", seeds: 5, Experiment.DeltasModes, "deltas"),
        Variants("aggregation", "Train one config under the loss aggregations (sequence_mean, token_mean, constant) and GSPO's sequence ratio.",
            "models/configs/sort-variable.json", seeds: 3, _ => Experiment.LossAggregations, "loss aggregation"),
        Variants("ablation", "Train one config as it is, with each of its tools (dynamic sampling, entropy bonus, reference mixup, dual clip, curriculum, overlapped rollouts) removed in turn, each tool it lacks added, and with none.",
            "models/configs/transformer-l8v32.json", seeds: 3, Experiment.Ablation, "variant"),
        Variants("collapse", "Train the seed task as configured, with dynamic sampling, with the entropy bonus and with both: what they change in the lecture's collapse (reward/frac_zero_std going to 1).",
            "models/configs/seed.json", seeds: 3, _ => Experiment.Collapse, "variant"),
    };

    static Command Variants(string name, string description, string defaultConfig, int seeds, IReadOnlyList<ExperimentVariant> variants, string header) =>
        Variants(name, description, defaultConfig, seeds, _ => variants, header);

    static Command Variants(string name, string description, string defaultConfig, int seeds, Func<TrainConfig, IReadOnlyList<ExperimentVariant>> variantsOf, string header)
    {
        var config = new Option<FileInfo>("--config") { Description = "Config to vary.", DefaultValueFactory = _ => new FileInfo(defaultConfig) };
        var seedCount = new Option<int>("--seeds") { Description = "Seeds per variant.", DefaultValueFactory = _ => seeds };
        var epochs = new Option<int?>("--epochs") { Description = "Override the config's epochs." };
        var target = new Option<double>("--target") { Description = "Held-out exact match whose time to reach is reported.", DefaultValueFactory = _ => 0.99 };
        var threads = new Option<int?>("--threads") { Description = "Override the config's run.threads (torch intra-op threads)." };
        var output = new Option<DirectoryInfo?>("--out") { Description = $"Output folder (default models/experiments/{name}-<runName>)." };
        var only = new Option<string[]>("--variants") { Description = "Train only these variants, by label (e.g. config none \"− dynamic sampling\").", AllowMultipleArgumentsPerToken = true };
        var parallel = new Option<int>("--parallel") { Description = "Runs trained at the same time, each in its own grpo process with run.threads torch threads; times are then per shared machine.", DefaultValueFactory = _ => 1 };
        var shard = new Option<string?>("--shard") { Description = "i/N: train only the runs whose index is i modulo N and write their run files (what --parallel starts).", Hidden = true };
        var command = new Command(name, description) { config, seedCount, epochs, target, threads, output, parallel, only, shard };
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
            var variants = variantsOf(baseConfig);
            if (parse.GetValue(only) is { Length: > 0 } labels)
            {
                foreach (var label in labels)
                    ConfigException.Require(variants.Any(v => v.Label == label), "--variants", label, string.Join(", ", variants.Select(v => $"'{v.Label}'")));
                variants = variants.Where(v => labels.Contains(v.Label)).ToList();
            }
            var dir = parse.GetValue(output)?.FullName ?? Path.GetFullPath(Path.Combine("models", "experiments", $"{name}-{baseConfig.RunName}"));
            Directory.CreateDirectory(dir);

            log.LogInformation("Experiment {Name} on {Run}: {Variants} × {Seeds} seeds × {Epochs} epochs",
                name, baseConfig.RunName, string.Join(", ", variants.Select(v => v.Label)), n, baseConfig.Epochs);
            // Every finished run is kept in runs/, named by a hash of its config: a stopped or crashed experiment
            // started again with the same arguments trains only what is missing.
            var runsDir = Path.Combine(dir, "runs");
            Directory.CreateDirectory(runsDir);
            string RunFile(TrainConfig c) => Path.Combine(runsDir, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(c.ToJson())))[..16] + ".json");
            // --parallel N starts N processes of this command, each with --shard i/N, then reads their run files. Runs
            // are processes, not threads: torch's thread count and global generator are process-wide.
            if (jobs > 1 && parse.GetValue(shard) is null)
            {
                var children = Enumerable.Range(0, jobs).Select(i => StartShard(parse.Tokens.Select(t => t.Value), $"{i}/{jobs}")).ToList();
                foreach (var child in children) child.WaitForExit();
                var failed = children.Count(c => c.ExitCode != 0);
                if (failed > 0) log.LogWarning("{Failed} of {Jobs} shards failed; the runs they finished are kept, and this process trains the rest", failed, jobs);
            }
            var (shardIndex, shardCount) = ParseShard(parse.GetValue(shard));
            var runs = Experiment.Run(baseConfig, variants, n,
                (run, c) =>
                {
                    AtomicFile.WriteAllText(RunFile(c), JsonSerializer.Serialize(run, TrainConfig.Json));
                    log.LogInformation("{Variant} seed {Seed}: final reward {Reward:F3}, held-out exact {Exact:P1}, {Goal:P0} {Reached}",
                        run.Variant, run.Seed, run.FinalReward, run.FinalHeldOutExact, goal,
                        run.FirstReaching(goal) is { } p ? $"reached at epoch {p.Epoch} ({p.TrainingSeconds:F0} s)" : "not reached");
                },
                new EveryHundredEpochs(log), cancel,
                c => File.Exists(RunFile(c)) ? JsonSerializer.Deserialize<ExperimentRun>(File.ReadAllText(RunFile(c)), TrainConfig.Json) : null,
                (shardIndex, shardCount));
            if (shardCount > 1) return Cli.Ok;   // a shard only trains; the parent writes the table
            var rows = Experiment.Summarize(runs, goal);
            var table = Experiment.ToMarkdown(rows, baseConfig, goal, header);
            var configPath = Path.GetRelativePath(Environment.CurrentDirectory, parse.GetValue(config)!.FullName);
            var commandLine = $"grpo experiment {name} --config {configPath} --seeds {n} --epochs {baseConfig.Epochs} --target {goal} --threads {baseConfig.Run.Threads}" + (jobs > 1 ? $" --parallel {jobs}" : "") +
                (parse.GetValue(only) is { Length: > 0 } picked ? " --variants " + string.Join(' ', picked.Select(l => l.Contains(' ') ? $"\"{l}\"" : l)) : "");
            AtomicFile.WriteAllText(Path.Combine(dir, $"{name}.md"), $"# {description}\n\nConfig `{baseConfig.RunName}`, produced by `{commandLine}`. " +
                "Times are training wall time on this machine (held-out evaluations excluded)" +
                (jobs > 1 ? $", with {jobs} runs sharing it at a time" : "") + ".\n\n" + table);
            AtomicFile.WriteAllText(Path.Combine(dir, $"{name}.json"), JsonSerializer.Serialize(new { command = commandLine, config = baseConfig, target = goal, rows, runs }, TrainConfig.Json));
            ExperimentPlot.Write(Path.Combine(dir, $"{name}.png"), $"{name}: {baseConfig.RunName}",
                runs.GroupBy(r => r.Variant).Select(g => new CurveSet(g.Key, Enumerable.Range(1, baseConfig.Epochs).Select(x => (double)x).ToArray(), g.Select(r => r.RewardCurve).ToArray())).ToList(),
                runs.GroupBy(r => r.Variant).Select(g => new CurveSet(g.Key, g.First().HeldOut.Select(p => (double)p.Epoch).ToArray(), g.Select(r => r.HeldOut.Select(p => p.Exact).ToArray()).ToArray())).ToList(),
                runs.GroupBy(r => r.Variant).Select(g => new CurveSet(g.Key, Enumerable.Range(1, baseConfig.Epochs).Select(x => (double)x).ToArray(), g.Select(r => r.TiedCurve).ToArray())).ToList());
            Console.WriteLine(table);
            log.LogInformation("Wrote {Dir}/{Name}.md, {Name}.json, {Name}.png", dir, name, name, name);
            return Cli.Ok;
        })));
        return command;
    }

    static System.Diagnostics.Process StartShard(IEnumerable<string> arguments, string shard)
    {
        var start = new System.Diagnostics.ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false };
        // Under `dotnet grpo.dll` the process is dotnet: pass the entry assembly first.
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") start.ArgumentList.Add(typeof(ExperimentCommand).Assembly.Location);
        foreach (var argument in arguments.Concat(["--shard", shard])) start.ArgumentList.Add(argument);
        return System.Diagnostics.Process.Start(start)!;
    }

    static (int Index, int Count) ParseShard(string? shard)
    {
        if (shard is null) return (0, 1);
        var parts = shard.Split('/');
        ConfigException.Require(parts.Length == 2 && int.TryParse(parts[0], out int i) && int.TryParse(parts[1], out int n) && n >= 1 && i >= 0 && i < n,
            "--shard", shard, "i/N with 0 ≤ i < N");
        return (int.Parse(parts[0]), int.Parse(parts[1]));
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
