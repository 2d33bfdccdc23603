using System.Text.Json;
using GrpoPipeline.Core;
using GrpoPipeline.Tests;
using NUnit.Framework;

namespace GrpoPipeline.Evaluation.Tests;

/// <summary>
/// Export → evaluate → report, and the training plot, on the fixture run <c>e2e</c> (60 epochs, held-out size 100,
/// seed 4), whose metrics.jsonl records what the trainer itself measured on the held-out prompts.
/// </summary>
[TestFixture]
public sealed class EndToEndTests
{
    static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
    const int HeldOutSize = 100;

    string _runDir = null!;
    string _onnx = null!;
    Dictionary<string, double> _last = null!;

    [OneTimeSetUp]
    public void ReadRun()
    {
        _onnx = Fixtures.Run;
        // A run directory of its own, so the plot test can write training.png beside the metrics.
        _runDir = TestModels.NewPath("run");
        Directory.CreateDirectory(_runDir);
        File.Copy(Fixtures.RunMetrics, Path.Combine(_runDir, TrainingPlot.MetricsFile));
        using var last = JsonDocument.Parse(File.ReadLines(Fixtures.RunMetrics).Last(l => l.Length > 0));
        _last = last.RootElement.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.Number).ToDictionary(p => p.Name, p => p.Value.GetDouble());
    }

    [Test]
    public void Evaluate_Writes_A_Sane_Report()
    {
        var report = PolicyEvaluator.Evaluate([_onnx, TestModels.Untrained], HeldOutSource.FromSplit(HeldOutSize));
        var dir = TestModels.NewPath("report");
        var files = ReportWriter.Write(report, dir);

        Assert.That(files.Json, Does.Exist);
        Assert.That(files.Markdown, Does.Exist);
        Assert.That(files.Png, Does.Exist);
        Assert.That(File.ReadAllBytes(files.Png).Take(8), Is.EqualTo(PngSignature));
        Assert.That(new FileInfo(files.Png).Length, Is.GreaterThan(10_000));

        var json = File.ReadAllText(files.Json);
        using (var doc = JsonDocument.Parse(json))
        {
            var first = doc.RootElement.GetProperty("models")[0];
            foreach (var key in new[] { "task", "exactMatch", "rewards", "meanRewardShare", "byLength", "prompts", "run", "epoch", "policy", "exactMatchInterval" })
                Assert.That(first.TryGetProperty(key, out _), Is.True, $"evaluation.json has '{key}'");
        }
        var parsed = EvaluationReport.FromJson(json);
        Assert.That(parsed.Models, Has.Count.EqualTo(2));
        var e2e = parsed.Models.Single(m => m.Run == "e2e");
        Assert.That(e2e.Model, Is.EqualTo(Path.GetFullPath(_onnx)));
        Assert.That((e2e.Epoch, e2e.Policy, e2e.PromptLength, e2e.VocabSize), Is.EqualTo((60, "seed", 4, 6)));
        Assert.That(e2e.Prompts, Is.InRange(60, 100), "up to heldOutSize prompts, about 130 exist");
        Assert.That(e2e.ExactMatch, Is.InRange(e2e.ExactMatchInterval.Low, e2e.ExactMatchInterval.High));
        var inclusionOrdering = e2e.Rewards.Single(r => r.Name == "inclusionOrdering").Mean;
        Assert.That(inclusionOrdering, Is.InRange(0.0, 7.0));
        Assert.That(e2e.MeanRewardShare, Is.EqualTo(inclusionOrdering / 7).Within(1e-12), "the default weights: inclusion + ordering alone, of 2L − 1");

        // The trainer scored the same held-out prompts (its heldOutSize and heldOutSeed) with TorchSharp at the last
        // epoch; ML.NET on the exported model must agree, up to an argmax tie that float rounding may break apart.
        Assert.That(e2e.ExactMatch, Is.EqualTo(_last["heldout/exact"]).Within(1.5 / e2e.Prompts));
        // The run trained on the inclusion + ordering reward, which is what its heldout/reward measured.
        Assert.That(inclusionOrdering, Is.EqualTo(_last["heldout/reward"]).Within(3.0 / e2e.Prompts));

        var markdown = File.ReadAllText(files.Markdown);
        Assert.That(markdown, Does.Contain("| Rank | Model |").And.Contain("e2e.onnx").And.Contain("seed-l4v6-untrained.onnx"));
    }

    [Test]
    public void The_Leaderboard_Is_Sorted_By_Exact_Match_Then_Reward_Share()
    {
        var report = PolicyEvaluator.Evaluate([TestModels.Untrained, _onnx, TestModels.Trained], HeldOutSource.FromSplit(200));
        Assert.That(report.Models.Select(m => m.Rank), Is.EqualTo(new[] { 1, 2, 3 }));
        for (int i = 1; i < report.Models.Count; i++)
        {
            var (better, worse) = (report.Models[i - 1], report.Models[i]);
            Assert.That(better.ExactMatch > worse.ExactMatch || (better.ExactMatch == worse.ExactMatch && better.MeanRewardShare >= worse.MeanRewardShare), Is.True,
                $"rank {better.Rank} ({better.ExactMatch}, {better.MeanRewardShare}) ahead of rank {worse.Rank} ({worse.ExactMatch}, {worse.MeanRewardShare})");
        }
        Assert.That(report.Models[^1].Model, Is.EqualTo(Path.GetFullPath(TestModels.Untrained)), "training improves on the initial weights");
    }

    [Test]
    public void TrainingPlot_Writes_A_Png_Next_To_The_Metrics()
    {
        var png = TrainingPlot.Write(_runDir);
        Assert.That(png, Is.EqualTo(Path.Combine(Path.GetFullPath(_runDir), TrainingPlot.FileName)));
        Assert.That(File.ReadAllBytes(png).Take(8), Is.EqualTo(PngSignature));
        Assert.That(new FileInfo(png).Length, Is.GreaterThan(10_000));
    }
}
