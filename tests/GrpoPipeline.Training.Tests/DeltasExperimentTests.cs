using GrpoPipeline.Training;
using NUnit.Framework;

namespace GrpoPipeline.Training.Tests;

[TestFixture, NonParallelizable]
public sealed class DeltasExperimentTests
{
    [Test]
    public void The_Experiment_Produces_One_Row_Per_Mode_Over_All_Seeds()
    {
        var config = new TrainConfig { Epochs = 20, Task = new() { HeldOutSize = 16 } };
        var runs = DeltasExperiment.Run(config, DeltasExperiment.LectureModes, seeds: 2);
        var rows = DeltasExperiment.Summarize(runs);

        Assert.That(runs, Has.Count.EqualTo(8));
        Assert.That(runs.Select(r => r.RewardCurve.Length), Is.All.EqualTo(20));
        Assert.That(rows.Select(r => r.Mode), Is.EqualTo(DeltasExperiment.LectureModes));
        Assert.That(rows.Select(r => r.Seeds), Is.All.EqualTo(2));
        var centered = runs.Where(r => r.Mode == DeltasMode.Centered).ToList();
        Assert.That(rows[1].FinalRewardMean, Is.EqualTo(centered.Average(r => r.FinalReward)).Within(1e-12));
        var table = DeltasExperiment.ToMarkdown(rows, config);
        Assert.That(table.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(2 + 4));
        Assert.That(table, Does.Contain("| normalized |").And.Contain("| max |"));
    }

    [Test]
    public void Seeds_Of_A_Mode_Differ()
    {
        var runs = DeltasExperiment.Run(new TrainConfig { Epochs = 5, Task = new() { HeldOutSize = 0 } }, [DeltasMode.Centered], seeds: 2);
        Assert.That(runs[0].Seed, Is.Not.EqualTo(runs[1].Seed));
        Assert.That(runs[0].RewardCurve, Is.Not.EqualTo(runs[1].RewardCurve));
    }
}
