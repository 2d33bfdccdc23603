using System.Text.Json;
using GrpoPipeline.Training.Experiments;
using NUnit.Framework;
using static GrpoPipeline.Training.Tests.Experiments.ExperimentStatisticsTests;

namespace GrpoPipeline.Training.Tests.Experiments;

/// <summary>
/// The report's files keep their format: the committed experiments under models/experiments and the tools that read
/// their JSON depend on it.
/// </summary>
[TestFixture]
public sealed class ExperimentReportTests
{
    static readonly ExperimentDefinition Deltas = ExperimentCatalogue.Experiments.Single(e => e.Name == "deltas");

    static ExperimentRun[] HandMadeRuns() =>
    [
        Run("centered", 0, 2.25, (10, 5, 0.5), (20, 10, 0.99), (30, 15, 0.98), (40, 20, 1.0)),
        Run("centered", 1, 3.25, (10, 5, 0.2), (20, 12, 0.9), (40, 30, 0.995)),
        Run("centered", 2, 4.25, (10, 5, 0.1), (40, 30, 0.7)),
        Run("− dual clip", 0, 2.25, (10, 4.4, 0.995), (40, 21.6, 1.0)),
        Run("− dual clip", 1, 3.25, (10, 6.5, 0.3), (40, 27.2, 0.999)),
    ];

    [Test]
    public void The_Table_Has_One_Row_Per_Variant_With_Medians_Ranges_And_The_Tasks_Max_Reward()
    {
        var report = new ExperimentReport(Deltas, TestConfigs.Tiny(), 0.99, HandMadeRuns(), "grpo experiment deltas");

        Assert.That(report.Table, Is.EqualTo("""
            | deltas | seeds | final mean reward (max 5) | final held-out exact | reached 99.0% | time to 99.0%: median [range] | epochs to 99.0%: median | lowest after reaching | ≥ 99.0% to the end from: median [range] |
            | --- | --- | --- | --- | --- | --- | --- | --- | --- |
            | centered | 3 | 3.250 ± 0.816 | 89.8% ± 14.0% | 2/3 | 30 s [10 s, not reached] | 40 | 98.0% | 30 s [20 s, never] |
            | − dual clip | 2 | 2.750 ± 0.500 | 100.0% ± 0.1% | 2/2 | 16 s [4 s, 27 s] | 25 | 99.5% | 16 s [4 s, 27 s] |

            """.ReplaceLineEndings("\n")));
    }

    [Test]
    public void The_Page_Names_The_Config_The_Command_And_Whether_Runs_Shared_The_Machine()
    {
        var alone = new ExperimentReport(Deltas, TestConfigs.Tiny(), 0.99, HandMadeRuns(), "grpo experiment deltas --seeds 3");
        var shared = new ExperimentReport(Deltas, TestConfigs.Tiny(), 0.99, HandMadeRuns(), "grpo experiment deltas --seeds 3 --parallel 2", runsAtATime: 2);

        Assert.That(alone.Markdown, Is.EqualTo($"# {Deltas.Description}\n\nConfig `test`, produced by `grpo experiment deltas --seeds 3`. " +
            "Times are training wall time on this machine (held-out evaluations excluded).\n\n" + alone.Table));
        Assert.That(shared.Markdown, Does.Contain("(held-out evaluations excluded), with 2 runs sharing it at a time.\n\n| deltas |"));
    }

    [Test]
    public void The_Json_Holds_Command_Config_Target_Rows_And_Runs()
    {
        var runs = HandMadeRuns();
        var config = TestConfigs.Tiny();
        using var json = JsonDocument.Parse(new ExperimentReport(Deltas, config, 0.99, runs, "grpo experiment deltas").Json);
        var root = json.RootElement;

        Assert.That(root.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "command", "config", "target", "rows", "runs" }));
        Assert.That(root.GetProperty("config").Deserialize<TrainConfig>(TrainConfig.Json)!.ToJson(), Is.EqualTo(config.ToJson()), "the base config");
        Assert.That(root.GetProperty("target").GetDouble(), Is.EqualTo(0.99));
        var centered = root.GetProperty("rows")[0];
        Assert.That(centered.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[]
        {
            "variant", "seeds", "finalRewardMean", "finalRewardStd", "heldOutExactMean", "heldOutExactStd", "reached", "secondsToTarget",
            "epochsToTarget", "lowestAfterTarget", "secondsToHolding", "medianSecondsToHolding", "medianSecondsToTarget", "medianEpochsToTarget",
        }));
        Assert.That(centered.GetProperty("secondsToTarget").EnumerateArray().Select(e => e.GetRawText()), Is.EqualTo(new[] { "10", "30", "null" }));
        Assert.That(root.GetProperty("runs").GetArrayLength(), Is.EqualTo(runs.Length));
        var back = root.GetProperty("runs")[3].Deserialize<ExperimentRun>(TrainConfig.Json)!;
        Assert.That((back.Variant, back.Seed, back.HeldOut, back.FinalReward), Is.EqualTo((runs[3].Variant, runs[3].Seed, runs[3].HeldOut, runs[3].FinalReward)));
    }

    [Test]
    public void Write_Puts_The_Page_And_The_Json_Under_The_Experiments_Name()
    {
        var dir = TestConfigs.NewTempDir("report");
        try
        {
            var report = new ExperimentReport(Deltas, TestConfigs.Tiny(), 0.99, HandMadeRuns(), "grpo experiment deltas");
            report.Write(dir);
            Assert.That(Directory.GetFiles(dir).Select(Path.GetFileName).Order(), Is.EqualTo(new[] { "deltas.json", "deltas.md" }));
            Assert.That(File.ReadAllText(Path.Combine(dir, "deltas.md")), Is.EqualTo(report.Markdown));
            Assert.That(File.ReadAllText(Path.Combine(dir, "deltas.json")), Is.EqualTo(report.Json));
        }
        finally { TestConfigs.DeleteDir(dir); }
    }
}
