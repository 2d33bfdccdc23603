using System.CommandLine;
using System.Text.Json;
using GrpoPipeline.Core;
using GrpoPipeline.Evaluation;
using GrpoPipeline.Inference;
using Microsoft.Extensions.Logging;

namespace GrpoPipeline.Cli;

/// <summary>
/// <c>grpo evaluate --model a.onnx [--model b.onnx …] (--heldout N [--seed S] | --prompts file.csv) --report &lt;dir&gt;</c>
/// and <c>grpo bench-evaluate --model m.onnx [--prompts 100000]</c>.
/// </summary>
static class EvaluateCommand
{
    static readonly JsonSerializerOptions CompactJson = new(JsonSerializerDefaults.Web);

    public static Command Create()
    {
        var models = new Option<FileInfo[]>("--model") { Description = "An exported .onnx policy; repeat for a leaderboard.", Required = true };
        var heldOut = new Option<int?>("--heldout") { Description = "Evaluate on N held-out prompts regenerated from each model's split." };
        var seed = new Option<ulong?>("--seed") { Description = "Seed that picks the held-out prompts (default: the split's own, as in training)." };
        var prompts = new Option<FileInfo?>("--prompts") { Description = "Evaluate on a CSV file with a 'prompt' column of space-separated tokens." };
        var report = new Option<DirectoryInfo>("--report") { Description = "Directory for evaluation.json, evaluation.md and evaluation.png.", Required = true };
        var command = new Command("evaluate", "Evaluate exported policies (factorised and decoders, any task) on held-out prompts with ML.NET, each with its task's rewards; writes a report and prints the leaderboard of each task, and exact match per length for decoders.")
        {
            models, heldOut, seed, prompts, report,
        };
        command.SetAction((parse, cancel) => Task.FromResult(Cli.Execute(log => BadInputAsExitCode(log, () =>
        {
            var source = Source(parse.GetValue(heldOut), parse.GetValue(seed), parse.GetValue(prompts)?.FullName);
            var paths = parse.GetValue(models)!.Select(f => f.FullName).ToList();
            log.LogInformation("Evaluating {Count} model(s) on {Source}", paths.Count, source);
            EvaluationReport result;
            try { result = PolicyEvaluator.Evaluate(paths, source, progress: new ModelProgress(log), cancellationToken: cancel); }
            catch (OperationCanceledException)
            {
                log.LogWarning("Evaluation cancelled; no report written");
                return Cli.Cancelled;
            }
            var files = ReportWriter.Write(result, parse.GetValue(report)!.FullName);
            Console.WriteLine(result.LeaderboardMarkdown());
            if (result.ByLengthMarkdown(decodersOnly: true) is { Length: > 0 } byLength)
            {
                Console.WriteLine("Exact match per length (decoders):");
                Console.WriteLine();
                Console.WriteLine(byLength);
            }
            foreach (var m in result.Models.Where(m => m.TrainingSplitPrompts > 0))
                log.LogWarning("{Model}: {Count} of the {Prompts} CSV prompts are in its training split; its scores are not held-out scores", Path.GetFileName(m.Model), m.TrainingSplitPrompts, m.Prompts);
            foreach (var m in result.Models.Where(m => m.InvalidPrompts > 0))
                log.LogWarning("{Model}: {Count} prompt(s) do not fit the model and were not scored; see {Report}", Path.GetFileName(m.Model), m.InvalidPrompts, files.Markdown);
            log.LogInformation("Report: {Json}, {Markdown}, {Png}", files.Json, files.Markdown, files.Png);
            return Cli.Ok;
        }))));
        return command;
    }

    /// <summary>One line as each model starts and as it finishes: evaluations of large prompt sets take a while.</summary>
    sealed class ModelProgress(ILogger log) : IProgress<EvaluationProgress>
    {
        public void Report(EvaluationProgress p)
        {
            if (p.PromptsScored == 0) log.LogInformation("Model {Index}/{Count}: {Path} ({Prompts} prompts)", p.Model, p.Models, Path.GetFileName(p.ModelPath), p.Prompts);
            else if (p.PromptsScored == p.Prompts) log.LogInformation("Model {Index}/{Count}: scored {Prompts} prompts", p.Model, p.Models, p.Prompts);
        }
    }

    /// <summary><c>grpo bench-evaluate</c>: ML.NET evaluation vs raw ORT batch scoring; prints JSON lines.</summary>
    public static Command CreateBenchmark()
    {
        var model = new Option<FileInfo>("--model") { Description = "An exported .onnx policy with a held-out split.", Required = true };
        var prompts = new Option<int>("--prompts") { Description = "Held-out prompts per method (the split's are cycled if it holds fewer); a decoder's one-at-a-time methods use 2,000 of them.", DefaultValueFactory = _ => 100_000 };
        var batch = new Option<int>("--batch") { Description = "Raw ORT batch size, and prompts per ML.NET row (per decoding call for a decoder) in the batched run.", DefaultValueFactory = _ => 1024 };
        var repeats = new Option<int>("--repeats") { Description = "Timed repeats per method; the best is reported.", DefaultValueFactory = _ => 3 };
        var command = new Command("bench-evaluate", "Benchmark ML.NET evaluation against raw ONNX Runtime batch scoring on the same held-out prompts.")
        {
            model, prompts, batch, repeats,
        };
        command.SetAction(parse => Cli.Execute(log => BadInputAsExitCode(log, () =>
        {
            int count = parse.GetValue(prompts), size = parse.GetValue(batch), times = parse.GetValue(repeats);
            ConfigException.Require(count is >= 1 and <= 10_000_000, "--prompts", count, "1..10000000");
            ConfigException.Require(size is >= 1 and <= 65536, "--batch", size, "1..65536");
            ConfigException.Require(times is >= 1 and <= 100, "--repeats", times, "1..100");
            var path = parse.GetValue(model)!.FullName;
            if (!File.Exists(path)) throw new FileNotFoundException($"no ONNX model at '{path}'", path);
            var result = ScoringBenchmark.Run(path, count, size, times);
            Console.WriteLine(JsonSerializer.Serialize(new { benchmark = "evaluate", model = path, prompts = count, distinctPrompts = result.DistinctPrompts, batch = size, repeats = times, threads = 1 }));
            foreach (var line in result.Lines) Console.WriteLine(JsonSerializer.Serialize(line, CompactJson));
            if (result.PerRow is { } perRow) Console.WriteLine(JsonSerializer.Serialize(new { perRowMicroseconds = perRow }, CompactJson));
            return Cli.Ok;
        })));
        return command;
    }

    static HeldOutSource Source(int? heldOut, ulong? seed, string? csv)
    {
        if ((heldOut is null) == (csv is null))
            throw new ConfigException("--heldout", "pass exactly one of --heldout N (held-out split) or --prompts file.csv");
        if (csv is not null)
        {
            ConfigException.Require(seed is null, "--seed", seed, "no --seed with --prompts (a CSV has no split to draw from)");
            return HeldOutSource.FromCsv(csv);
        }
        ConfigException.Require(heldOut is >= 1 and <= HeldOutSource.MaxSplitCount, "--heldout", heldOut, $"1..{HeldOutSource.MaxSplitCount}");
        return HeldOutSource.FromSplit(heldOut!.Value, seed);
    }

    /// <summary>A bad model path, a contract mismatch or a bad CSV is the user's mistake: one line, exit code 2.</summary>
    static int BadInputAsExitCode(ILogger log, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is FileNotFoundException or OnnxContractException or EvaluationException)
        {
            log.LogError("{Message}", e.Message);
            return Cli.BadInput;
        }
    }
}
