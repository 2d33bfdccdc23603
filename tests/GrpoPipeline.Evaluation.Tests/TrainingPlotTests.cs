using NUnit.Framework;

namespace GrpoPipeline.Evaluation.Tests;

/// <summary>The training plot reads metrics.jsonl as the trainer writes it, gaps and all.</summary>
[TestFixture]
public sealed class TrainingPlotTests
{
    static string RunDir(string metrics)
    {
        var dir = TestModels.NewPath("run");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, TrainingPlot.MetricsFile), metrics);
        return dir;
    }

    [Test]
    public void Nulls_Missing_Keys_And_A_Long_Run_Still_Plot()
    {
        var lines = Enumerable.Range(1, 5000).Select(e =>
            $$"""{"epoch":{{e}},"reward/mean":{{(e == 7 ? "null" : (3 + e / 2000.0).ToString(System.Globalization.CultureInfo.InvariantCulture))}},"reward/std":0.5,"loss/kl":0.01,"clip/ratio_low":0.1,"clip/ratio_high":0.05{{(e % 100 == 0 ? ",\"heldout/exact\":0.5" : "")}}}""");
        var png = TrainingPlot.Write(RunDir(string.Join('\n', lines) + "\n"));
        Assert.That(new FileInfo(png).Length, Is.GreaterThan(10_000));
    }

    [Test]
    public void A_Run_Directory_Without_Metrics_Fails() =>
        Assert.That(() => TrainingPlot.Write(TestModels.NewPath("nothing")),
            Throws.TypeOf<EvaluationException>().With.Message.Contains(TrainingPlot.MetricsFile));

    [Test]
    public void A_Bad_Metrics_Line_Fails_With_Its_Line_Number()
    {
        var dir = RunDir("{\"epoch\":1,\"reward/mean\":1}\n{\"epoch\":2,\"reward/mean\":\n");
        Assert.That(() => TrainingPlot.Write(dir), Throws.TypeOf<EvaluationException>().With.Message.Contains("metrics.jsonl:2:"));
    }

    [Test]
    public void Downsampling_Averages_Bins_And_Keeps_Short_Series()
    {
        var (xs, ys) = TrainingPlot.Downsample([1, 2, 3, 4], [10, 20, 30, 40], maxPoints: 2);
        Assert.That(xs, Is.EqualTo(new[] { 1.5, 3.5 }));
        Assert.That(ys, Is.EqualTo(new[] { 15.0, 35.0 }));
        Assert.That(TrainingPlot.Downsample([1, 2], [3, 4], maxPoints: 2).Xs, Is.EqualTo(new[] { 1.0, 2.0 }));
    }
}
