using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;
using GrpoPipeline.Core;
using GrpoPipeline.Inference;
using GrpoPipeline.Training;
using NUnit.Framework;

namespace GrpoPipeline.Samples.Tests;

/// <summary>
/// The packages as a user meets them: packed into <c>artifacts/packages</c>, restored by version into the three sample
/// apps (with our package ids cleared from the NuGet cache first, so nothing stale is restored), built, and run on a
/// model trained and exported during the test. A package that fails to restore fails here.
/// </summary>
[TestFixture, NonParallelizable]
public sealed class SamplesTests
{
    static readonly string[] PackageIds = ["GrpoPipeline.Core", "GrpoPipeline.Training", "GrpoPipeline.Inference", "GrpoPipeline.Evaluation", "GrpoPipeline.Service"];
    /// <summary>The packages an app that only answers prompts takes: none may bring TorchSharp.</summary>
    static readonly string[] WithoutTorchSharp = ["GrpoPipeline.Core", "GrpoPipeline.Inference", "GrpoPipeline.Evaluation", "GrpoPipeline.Service"];
    static readonly TimeSpan Long = TimeSpan.FromMinutes(6);

    string _repo = null!;
    string _configuration = null!;
    string _work = null!;
    string _model = null!;

    [OneTimeSetUp]
    public void PackAndExportAModel()
    {
        _repo = RepositoryRoot();
        // This assembly lives in tests/<project>/bin/<Configuration>/<tfm>: pack the build it was built with.
        _configuration = new DirectoryInfo(TestContext.CurrentContext.TestDirectory).Parent!.Name;
        _work = Path.Combine(Path.GetTempPath(), $"grpo-samples-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_work);

        var feed = Path.Combine(_repo, "artifacts", "packages");
        if (Directory.Exists(feed)) Directory.Delete(feed, recursive: true);
        Processes.Succeed(_repo, Long, "pack", "GrpoPipeline.sln", "-c", _configuration, "--no-build", "--no-restore", "-o", feed);
        ClearOurPackagesFromTheNuGetCache();

        // A model exported during the run: a short training run of the lecture's task, then `grpo export`.
        var grpo = Path.Combine(TestContext.CurrentContext.TestDirectory, "grpo.dll");
        var config = Path.Combine(_work, "tiny.json");
        File.WriteAllText(config, """
            { "runName": "samples", "epochs": 60, "task": { "kind": "fixed", "heldOutSize": 0 },
              "grpo": { "learningRate": 0.01 }, "run": { "logEvery": 100, "heldOutEvery": 0, "checkpointEvery": 0, "threads": 1 } }
            """);
        var runDir = Path.Combine(_work, "run");
        Processes.Succeed(_work, Long, grpo, "train", "--config", config, "--run-dir", runDir);
        _model = Path.Combine(_work, "samples.onnx");
        Processes.Succeed(_work, Long, grpo, "export", "--checkpoint", runDir, "--output", _model);
    }

    [OneTimeTearDown]
    public void CleanUp()
    {
        if (_work is not null && Directory.Exists(_work)) Directory.Delete(_work, recursive: true);
    }

    [Test]
    public void The_Packages_Carry_A_Readme_Docs_Symbols_And_Only_Training_Brings_TorchSharp()
    {
        var feed = Path.Combine(_repo, "artifacts", "packages");
        string version = Version();
        foreach (var id in PackageIds)
        {
            var nupkg = Path.Combine(feed, $"{id}.{version}.nupkg");
            Assert.That(nupkg, Does.Exist);
            Assert.That(Path.Combine(feed, $"{id}.{version}.snupkg"), Does.Exist, $"{id} has a symbols package");
            using var zip = System.IO.Compression.ZipFile.OpenRead(nupkg);
            var entries = zip.Entries.Select(e => e.FullName).ToList();
            Assert.That(entries, Has.Member("README.md"), id);
            Assert.That(entries, Has.Member($"lib/net10.0/{id}.xml"), $"{id} ships its XML docs");
            var nuspec = XDocument.Load(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open());
            string Meta(string name) => nuspec.Descendants().First(e => e.Name.LocalName == name).Value;
            Assert.That((Meta("version"), Meta("license"), Meta("readme")), Is.EqualTo((version, "MIT", "README.md")), id);
            Assert.That(Meta("description"), Is.Not.Empty, id);
            Assert.That(Meta("authors"), Is.Not.Empty, id);
            var dependencies = nuspec.Descendants().Where(e => e.Name.LocalName == "dependency").Select(e => (string)e.Attribute("id")!).ToList();
            if (WithoutTorchSharp.Contains(id))
                Assert.That(dependencies, Has.None.Contains("TorchSharp").And.None.EqualTo("GrpoPipeline.Training"), $"{id} must not bring TorchSharp");
            else
            {
                Assert.That(dependencies, Has.Member("TorchSharp-cpu").And.Member("GrpoPipeline.Core"), id);
                // The libtorch load fix for Debian 12 travels with the package, into every project that references it.
                Assert.That(entries, Has.Member("buildTransitive/GrpoPipeline.Training.targets").And.Member("buildTransitive/WeakenElfVersionRequirement.cs"), id);
            }
            Assert.That(dependencies.Where(d => d.StartsWith("GrpoPipeline.", StringComparison.Ordinal)), Is.SubsetOf(PackageIds),
                $"{id} depends only on packages that are produced");
        }
    }

    [Test]
    public void The_Console_Sample_Restores_The_Package_And_Sorts_With_The_Exported_Model()
    {
        var output = Build("SortConsole");
        var result = Processes.Run(_work, Long, Path.Combine(output, "SortConsole.dll"), _model, "3", "1", "2");
        TestContext.Out.WriteLine(result.Output);

        using var policy = OnnxPolicy.Load(_model);
        var expected = policy.Respond([3, 1, 2]);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Output, Does.Contain("model   samples (seed, factorised/1, epoch 60), task sort"));
        Assert.That(result.Output, Does.Contain("prompt  [3, 1, 2]"));
        Assert.That(result.Output, Does.Contain($"answer  [{string.Join(", ", expected)}]"));
        var score = policy.Score([3, 1, 2], expected)!;
        Assert.That(result.Output, Does.Contain(FormattableString.Invariant(
            $"rewards exact={score.Exact} inclusionOrdering={score["inclusionOrdering"]} sortDistance={score["sortDistance"]} exact={score["exact"]}")));

        var bad = Processes.Run(_work, Long, Path.Combine(output, "SortConsole.dll"), _model, "3", "9", "2");
        Assert.That(bad.ExitCode, Is.EqualTo(2), bad.ToString());
        Assert.That(bad.Output, Does.StartWith("error: token at index 1 is 9; tokens must be in 0..4"));
        AssertNoTorchSharp(output);
    }

    [Test]
    public async Task The_Web_Sample_Restores_The_Package_And_Serves_A_Sort()
    {
        var output = Build("SortWebApi");
        AssertNoTorchSharp(output);
        int port = FreePort();
        var start = Processes.Start(output, Path.Combine(output, "SortWebApi.dll"), $"--Policy:ModelPath={_model}", $"--urls=http://127.0.0.1:{port}");
        using var server = Process.Start(start)!;
        var log = new StringBuilder();
        server.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        server.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            HttpResponseMessage? response = null;
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (response is null && DateTime.UtcNow < deadline && !server.HasExited)
            {
                try { response = await client.PostAsync("/v1/respond", new StringContent("{\"prompt\":[3,1,2]}", Encoding.UTF8, "application/json")); }
                catch (HttpRequestException) { await Task.Delay(200); }
            }
            string Log() { lock (log) return log.ToString(); }
            Assert.That(response, Is.Not.Null, $"the sample did not answer within 60 s:\n{Log()}");
            using (response)
            {
                var text = await response!.Content.ReadAsStringAsync();
                Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), text);
                using var json = JsonDocument.Parse(text);
                using var policy = OnnxPolicy.Load(_model);
                Assert.That(json.RootElement.GetProperty("response").EnumerateArray().Select(e => e.GetInt64()), Is.EqualTo(policy.Respond([3, 1, 2])));
                Assert.That(json.RootElement.GetProperty("rewards").GetProperty("components").GetProperty("inclusionOrdering").GetDouble(), Is.InRange(0, 5));
            }
        }
        finally
        {
            if (!server.HasExited) server.Kill(entireProcessTree: true);
            server.WaitForExit();
        }
    }

    /// <summary>
    /// The custom-task sample, from a clean package cache for our ids: its own task in one file, trained with the
    /// Training package (so libtorch loads in a consumer's output on this Debian 12 machine, through the package's
    /// buildTransitive fix), exported, and answered through the Inference package; run again, it resumes.
    /// </summary>
    [Test]
    public void The_Custom_Task_Sample_Trains_Its_Own_Task_Exports_It_And_Answers_With_It()
    {
        var output = Build("CustomTask");
        Assert.That(Path.Combine(output, "runtimes", "linux-x64", "native", "libLibTorchSharp.so"), Does.Exist, "the Training package brought libtorch");
        var taskFile = Path.Combine(_repo, "samples", "CustomTask", "DistinctTask.cs");
        TestContext.Out.WriteLine($"DistinctTask.cs: {File.ReadAllLines(taskFile).Length} lines");

        var folder = Path.Combine(_work, "custom-task");
        var clock = Stopwatch.StartNew();
        var first = Processes.Run(_work, Long, Path.Combine(output, "CustomTask.dll"), folder);
        TestContext.Out.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s\n{first.Output}");
        Assert.That(first.ExitCode, Is.Zero, first.ToString());
        var trained = System.Text.RegularExpressions.Regex.Match(first.Output, @"trained (\d+) epochs in [\d.]+ s; held-out exact (([\d.]+) ?%)");
        Assert.That(trained.Success, Is.True, first.Output);
        Assert.That(double.Parse(trained.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture), Is.GreaterThanOrEqualTo(90), "a good held-out score");
        Assert.That(first.Output, Does.Contain("[3, 1, 3, 2, 1] -> [1, 2, 3]  exact=True tokenShare=1 exact=1"), "answered through Inference, with the task's rewards");

        // This process never registered 'distinct': the model still answers, and says why there are no rewards.
        using (var policy = OnnxPolicy.Load(Path.Combine(folder, "distinct.onnx")))
        {
            Assert.That((policy.Contract.TaskName, policy.Contract.HasRewards), Is.EqualTo(("distinct", false)));
            Assert.That(policy.Contract.RewardsUnavailable, Does.Contain("'distinct' is not registered"));
            Assert.That(first.Output, Does.Contain($"[4, 0, 7, 2, 0] -> [{string.Join(", ", policy.Respond([4, 0, 7, 2, 0]))}]"));
        }

        var again = Processes.Run(_work, Long, Path.Combine(output, "CustomTask.dll"), folder, "4", "4", "1");
        Assert.That(again.ExitCode, Is.Zero, again.ToString());
        Assert.That(again.Output, Does.Contain("Resuming").And.Contain($"trained {trained.Groups[1].Value} epochs").And.Contain($"held-out exact {trained.Groups[2].Value}"));
        Assert.That(again.Output, Does.Contain("[4, 4, 1] -> "));
    }

    /// <summary>
    /// The genai folder as its user meets it: built from the committed decoder fixture (lengths 1..6, V=8) by
    /// <see cref="GenAiExporter.FromOnnx"/> (what <c>grpo export --format genai</c> writes), and run by the GenAiConsole
    /// sample, a fresh app that restores ONNX Runtime GenAI 0.20 and nothing of ours, one prompt at a time. 50 prompts of
    /// every length, drawn with a fixed seed, must get the responses <see cref="OnnxPolicy.RespondBatch(IReadOnlyList{long[]})"/> gives.
    /// </summary>
    [Test]
    public void The_GenAi_Sample_Answers_A_Genai_Export_As_The_Inference_Library_Does()
    {
        var doc = File.ReadAllText(Path.Combine(_repo, "docs", "genai.md"));
        foreach (var file in new[] { "Program.cs", "GenAiConsole.csproj" })
            Assert.That(doc, Does.Contain(File.ReadAllText(Path.Combine(_repo, "samples", "GenAiConsole", file)).TrimEnd()), $"docs/genai.md shows {file} as it is");
        var output = BuildStandalone("GenAiConsole");
        AssertNoTorchSharp(output);
        var assets = File.ReadAllText(Path.Combine(_repo, "samples", "GenAiConsole", "obj", "project.assets.json"));
        Assert.That(assets, Does.Contain("\"Microsoft.ML.OnnxRuntimeGenAI/0.20.0\""));
        Assert.That(assets, Does.Not.Contain("TorchSharp").And.Not.Contain("\"GrpoPipeline."), "the app restores ONNX Runtime GenAI alone");

        var fixture = Path.Combine(_repo, "tests", "fixtures", "decoder-l1to6v8.onnx");
        var folder = Path.Combine(_work, "decoder-genai");
        GenAiExporter.FromOnnx(fixture, folder);
        Assert.That(Directory.GetFiles(folder).Select(Path.GetFileName), Is.EquivalentTo(new[] { "model.onnx", "genai_config.json", "grpo.json" }));

        using var policy = OnnxPolicy.Load(fixture);
        var rules = policy.Contract.Prompts;
        const int PerLength = 50;
        var rng = new Rng(19);
        var prompts = Enumerable.Range(rules.MinLength, rules.MaxLength - rules.MinLength + 1)
            .SelectMany(length => Enumerable.Range(0, PerLength).Select(_ =>
                Enumerable.Range(0, length).Select(_ => (long)rng.NextInt(policy.Contract.VocabSize)).ToArray()))
            .ToList();
        var expected = policy.RespondBatch(prompts);

        var clock = Stopwatch.StartNew();
        var result = Processes.RunWithInput(_work, Long, string.Join('\n', prompts.Select(p => string.Join(' ', p))) + "\n",
            Path.Combine(output, "GenAiConsole.dll"), folder);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        var lines = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.That(lines, Has.Length.EqualTo(prompts.Count), result.Output);

        var byLength = new SortedDictionary<int, (int Total, int Identical, int Truncated)>();
        var mismatches = new List<string>();
        for (int i = 0; i < prompts.Count; i++)
        {
            var parts = lines[i].Split("->");
            Assert.That(parts[0].Trim(), Is.EqualTo(string.Join(' ', prompts[i])), "the app answers the prompts in order");
            var response = parts[1].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(long.Parse).ToArray();
            bool same = response.AsSpan().SequenceEqual(expected[i]);
            if (!same) mismatches.Add($"[{string.Join(", ", prompts[i])}]: GenAI [{string.Join(", ", response)}], Inference [{string.Join(", ", expected[i])}]");
            var (total, identical, truncated) = byLength.GetValueOrDefault(prompts[i].Length);
            byLength[prompts[i].Length] = (total + 1, identical + (same ? 1 : 0), truncated + (policy.Contract.IsTruncated(expected[i]) ? 1 : 0));
        }
        TestContext.Out.WriteLine($"ONNX Runtime GenAI 0.20 (GenAiConsole, one prompt at a time) vs OnnxPolicy.RespondBatch, decoder-l1to6v8, {prompts.Count} prompts (seed 19) in {clock.Elapsed.TotalSeconds:F1} s");
        foreach (var (length, (total, identical, truncated)) in byLength)
            TestContext.Out.WriteLine($"  length {length}: {identical}/{total} identical ({truncated} truncated at the cap)");
        TestContext.Out.WriteLine($"  all: {byLength.Values.Sum(v => v.Identical)}/{prompts.Count} identical");

        Assert.That(byLength.Keys, Is.EqualTo(Enumerable.Range(rules.MinLength, rules.MaxLength - rules.MinLength + 1)), "every length was decoded");
        Assert.That(expected.Count(r => r.Length > 0), Is.GreaterThan(prompts.Count / 2), "the fixture answers: the comparison is not of empty responses");
        Assert.That(mismatches, Is.Empty, string.Join("\n", mismatches.Take(10)));
    }

    /// <summary>Builds a sample that references none of our packages (so the feed need not hold them); returns its output folder.</summary>
    string BuildStandalone(string sample)
    {
        var project = Path.Combine(_repo, "samples", sample);
        foreach (var dir in new[] { "bin", "obj" })
            if (Directory.Exists(Path.Combine(project, dir))) Directory.Delete(Path.Combine(project, dir), recursive: true);
        Processes.Succeed(project, Long, "build", "-c", "Release");
        return Path.Combine(project, "bin", "Release", "net10.0");
    }

    /// <summary>Restores and builds a sample in place, with its own NuGet.config; returns its output folder.</summary>
    string Build(string sample)
    {
        var project = Path.Combine(_repo, "samples", sample);
        foreach (var dir in new[] { "bin", "obj" })
            if (Directory.Exists(Path.Combine(project, dir))) Directory.Delete(Path.Combine(project, dir), recursive: true);
        Processes.Succeed(project, Long, "build", "-c", "Release");
        var output = Path.Combine(project, "bin", "Release", "net10.0");
        var assets = File.ReadAllText(Path.Combine(project, "obj", "project.assets.json"));
        Assert.That(assets, Does.Contain($"\"GrpoPipeline.Core/{Version()}\""), "restored our packages by version, not a project");
        return output;
    }

    static void AssertNoTorchSharp(string output)
    {
        var torch = Directory.EnumerateFiles(output, "*", SearchOption.AllDirectories)
            .Where(f => f.Contains("TorchSharp", StringComparison.OrdinalIgnoreCase) || Path.GetFileName(f).StartsWith("libtorch", StringComparison.Ordinal)).ToList();
        Assert.That(torch, Is.Empty, "a package brought TorchSharp or libtorch into a consumer's output");
    }

    string Version() => XDocument.Load(Path.Combine(_repo, "build", "Version.props")).Descendants().Single(e => e.Name.LocalName == "GrpoPipelineVersion").Value;

    /// <summary>Deletes our ids from the global packages folder, so a restore takes this run's packages and not a stale copy of the same version.</summary>
    void ClearOurPackagesFromTheNuGetCache()
    {
        var listing = Processes.Succeed(_repo, Long, "nuget", "locals", "global-packages", "--list");
        var folder = listing.Split(':', 2)[1].Trim();
        foreach (var id in PackageIds)
        {
            var cached = Path.Combine(folder, id.ToLowerInvariant());
            if (Directory.Exists(cached)) Directory.Delete(cached, recursive: true);
        }
    }

    static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "GrpoPipeline.sln"))) return dir.FullName;
        throw new InvalidOperationException("GrpoPipeline.sln not found above the test directory");
    }

    static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
