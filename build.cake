// build.cake: build, test, train and benchmark GrpoPipeline.
//   dotnet tool restore
//   dotnet cake --target=Test
//   dotnet cake --target=Train --config=models/configs/seed.json --epochs=3 --seed=1 --resume

using System.Xml.Linq;

///////////////////////////////////////////////////////////////////////////////
// ARGUMENTS
///////////////////////////////////////////////////////////////////////////////

var target        = Argument("target", "Default");
var configuration = Argument("configuration", "Release");
var config        = Argument("config", "models/configs/transformer-l5v10.json");
int? epochs       = HasArgument("epochs") ? Argument<int>("epochs") : null;
string runDir     = HasArgument("run-dir") ? Argument<string>("run-dir") : null;
long? seed        = HasArgument("seed") ? Argument<long>("seed") : null;
// A bare `--resume` carries no value, so its presence is the flag.
var resume        = HasArgument("resume");
// Training runs supervised (restarted from its last checkpoint if the trainer dies abnormally) unless --supervise=false.
var supervise     = Argument("supervise", true);
string output     = HasArgument("output") ? Argument<string>("output") : null;
string model      = HasArgument("model") ? Argument<string>("model") : null;
string urls       = Argument("urls", "http://127.0.0.1:5080");
string reportDir  = HasArgument("report-dir") ? Argument<string>("report-dir") : null;
int heldOut       = Argument("heldout", 1000);
// The aggregate targets continue an existing run (a no-op when it is complete) instead of refusing it.
var continueRuns  = target is "Pipeline" or "Default";

///////////////////////////////////////////////////////////////////////////////
// SETUP / HELPERS
///////////////////////////////////////////////////////////////////////////////

const string Solution = "GrpoPipeline.sln";
var artifacts   = Directory("artifacts");
var testResults = artifacts + Directory("test-results");
var packages    = artifacts + Directory("packages");
var cliDll      = File($"src/GrpoPipeline.Cli/bin/{configuration}/net10.0/grpo.dll");

// Runs `dotnet grpo.dll <args>` and turns a non-zero exit into a failure that says what it means.
void RunGrpo(string what, ProcessArgumentBuilder args)
{
    if (!FileExists(cliDll))
        throw new CakeException($"{cliDll} not found; build the CLI first (configuration '{configuration}').");

    var exitCode = StartProcess("dotnet", new ProcessSettings {
        Arguments = new ProcessArgumentBuilder().AppendQuoted(cliDll.Path.FullPath).Append(args.Render()),
    });
    if (exitCode != 0)
    {
        var meaning = exitCode == 2 ? " (bad input: config, arguments or run directory; see its message above)" : "";
        throw new CakeException($"grpo {what} failed with exit code {exitCode}{meaning}.");
    }
}

// The run directory of the chosen config: --run-dir, or models/runs/<runName> (as `grpo train` picks it).
string EffectiveRunDir()
{
    if (runDir != null) return runDir;
    using var json = System.Text.Json.JsonDocument.Parse(System.IO.File.ReadAllText(config));
    var name = json.RootElement.TryGetProperty("runName", out var n) ? n.GetString() : "seed";
    return $"models/runs/{name}";
}

string RunNameOf(string runDirectory) => System.IO.Path.GetFileName(System.IO.Path.GetFullPath(runDirectory).TrimEnd('/'));
string ModelPath() => model ?? output ?? $"models/{RunNameOf(EffectiveRunDir())}.onnx";
string ReportPath() => reportDir ?? $"models/reports/{RunNameOf(EffectiveRunDir())}";

// Counts <UnitTestResult outcome="..."> over every TRX file. NUnit writes one flat result per test case;
// .ci/run counts the same elements the same way, so both summaries agree.
string TrxSummary(DirectoryPath dir)
{
    int passed = 0, failed = 0, skipped = 0;
    foreach (var trx in GetFiles($"{dir.FullPath}/*.trx"))
    {
        var results = XDocument.Load(trx.FullPath).Descendants().Where(e => e.Name.LocalName == "UnitTestResult");
        foreach (var outcome in results.Select(e => (string)e.Attribute("outcome")))
        {
            switch (outcome)
            {
                case "Passed": passed++; break;
                case "NotExecuted": case "Skipped": case "Inconclusive": skipped++; break;
                default: failed++; break; // Failed, Error, Timeout, Aborted, ...
            }
        }
    }
    return $"{passed} passed, {failed} failed" + (skipped > 0 ? $", {skipped} skipped" : "");
}

///////////////////////////////////////////////////////////////////////////////
// TASKS
///////////////////////////////////////////////////////////////////////////////

Task("Clean")
    .Does(() =>
{
    DotNetClean(Solution, new DotNetCleanSettings { Configuration = configuration });
    EnsureDirectoryDoesNotExist(artifacts, new DeleteDirectorySettings { Recursive = true, Force = true });
});

Task("Restore")
    .Does(() =>
{
    DotNetRestore(Solution);
});

Task("Build")
    .IsDependentOn("Restore")
    .Does(() =>
{
    DotNetBuild(Solution, new DotNetBuildSettings { Configuration = configuration, NoRestore = true });
});

// The five library packages (Core, Training, Inference, Evaluation, Service) and their symbols, for apps that restore them
// from this folder (samples/NuGet.config does).
Task("Pack")
    .IsDependentOn("Build")
    .Does(() =>
{
    EnsureDirectoryDoesNotExist(packages, new DeleteDirectorySettings { Recursive = true, Force = true });
    DotNetPack(Solution, new DotNetPackSettings { Configuration = configuration, NoBuild = true, NoRestore = true, OutputDirectory = packages });
    foreach (var package in GetFiles($"{packages.Path.FullPath}/*.nupkg")) Information($"Packed {package.GetFilename()}");
});

Task("Test")
    .IsDependentOn("Build")
    .Does(() =>
{
    EnsureDirectoryDoesNotExist(testResults, new DeleteDirectorySettings { Recursive = true, Force = true });
    var exitCode = 0;
    DotNetTest(Solution, new DotNetTestSettings {
        Configuration = configuration,
        NoBuild = true,
        Loggers = new[] { "trx" },
        ResultsDirectory = testResults,
        // Keep going on failure so the summary is printed; the task fails just below.
        HandleExitCode = code => { exitCode = code; return true; },
    });
    var summary = TrxSummary(testResults);
    Information(summary);
    if (exitCode != 0)
        throw new CakeException($"dotnet test failed with exit code {exitCode} ({summary}).");
});

Task("Train")
    .IsDependentOn("Build")
    .Does(() =>
{
    // Optional flags are passed only when given, so the config file's values stand otherwise.
    var args = new ProcessArgumentBuilder().Append("train").Append("--config").AppendQuoted(config);
    if (epochs is int n) args.Append("--epochs").Append(n.ToString());
    if (runDir != null) args.Append("--run-dir").AppendQuoted(runDir);
    if (seed is long s) args.Append("--seed").Append(s.ToString());
    var existing = FileExists($"{EffectiveRunDir()}/checkpoints/latest");
    if (resume || (continueRuns && existing)) args.Append("--resume");
    if (runDir == null && (resume || existing)) args.Append("--run-dir").AppendQuoted(EffectiveRunDir());
    if (supervise) args.Append("--supervise");
    RunGrpo("train", args);
});

Task("Export")
    .IsDependentOn("Build")
    .Does(() =>
{
    RunGrpo("export", new ProcessArgumentBuilder().Append("export").Append("--checkpoint").AppendQuoted(EffectiveRunDir())
        .Append("--output").AppendQuoted(ModelPath()));
});

Task("Evaluate")
    .IsDependentOn("Build")
    .Does(() =>
{
    RunGrpo("evaluate", new ProcessArgumentBuilder().Append("evaluate").Append("--model").AppendQuoted(ModelPath())
        .Append("--heldout").Append(heldOut.ToString()).Append("--report").AppendQuoted(ReportPath()));
    Information($"Run directory:  {System.IO.Path.GetFullPath(EffectiveRunDir())} (metrics.jsonl, training.png, checkpoints/)");
    Information($"Exported model: {System.IO.Path.GetFullPath(ModelPath())}");
    Information($"Report:         {System.IO.Path.GetFullPath(ReportPath())} (evaluation.md, evaluation.json, evaluation.png)");
});

Task("Serve")
    .IsDependentOn("Build")
    .Does(() =>
{
    if (model == null) throw new CakeException("Serve needs --model=<file.onnx> (export one with --target=Export).");
    RunGrpo("serve", new ProcessArgumentBuilder().Append("serve").Append("--model").AppendQuoted(model).Append("--urls").AppendQuoted(urls));
});

// Benchmarks print figures and judge nothing: trainer epochs/s, ORT vs TorchSharp, and HTTP load with wrk.
Task("Benchmark")
    .IsDependentOn("Build")
    .Does(() =>
{
    RunGrpo("bench train", new ProcessArgumentBuilder().Append("bench").Append("train"));
    // The PyTorch baseline is optional: without root or Debian's python3-torch, say so and go on.
    if (StartProcess("bash", new ProcessSettings { Arguments = new ProcessArgumentBuilder().AppendQuoted("tools/pytorch-bench.sh") }) != 0)
        Warning("PyTorch baseline skipped: tools/pytorch-bench.sh failed (it needs Debian's python3-torch, or root to install it).");
    var benchRun = artifacts + Directory("bench-run");
    EnsureDirectoryDoesNotExist(benchRun, new DeleteDirectorySettings { Recursive = true, Force = true });
    RunGrpo("train", new ProcessArgumentBuilder().Append("train").Append("--config").AppendQuoted(config)
        .Append("--run-dir").AppendQuoted(benchRun.Path.FullPath));
    RunGrpo("bench inference", new ProcessArgumentBuilder().Append("bench").Append("inference").Append("--checkpoint").AppendQuoted(benchRun.Path.FullPath));
    var onnx = artifacts + File("bench.onnx");
    RunGrpo("export", new ProcessArgumentBuilder().Append("export").Append("--checkpoint").AppendQuoted(benchRun.Path.FullPath)
        .Append("--output").AppendQuoted(onnx.Path.FullPath));
    if (StartProcess("bash", new ProcessSettings { Arguments = new ProcessArgumentBuilder()
            .AppendQuoted("tools/http-bench.sh").AppendQuoted(onnx.Path.FullPath).Append("15").Append(configuration) }) != 0)
        throw new CakeException("tools/http-bench.sh failed.");
});

///////////////////////////////////////////////////////////////////////////////
// TARGETS
///////////////////////////////////////////////////////////////////////////////

// Train → Export → Evaluate on held-out prompts; prints the leaderboard and where the artifacts are.
Task("Pipeline")
    .IsDependentOn("Train")
    .IsDependentOn("Export")
    .IsDependentOn("Evaluate");

Task("Default")
    .IsDependentOn("Pipeline");

///////////////////////////////////////////////////////////////////////////////
// EXECUTION
///////////////////////////////////////////////////////////////////////////////

RunTarget(target);
