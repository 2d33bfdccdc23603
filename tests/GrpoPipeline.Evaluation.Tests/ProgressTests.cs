using NUnit.Framework;

namespace GrpoPipeline.Evaluation.Tests;

/// <summary><see cref="PolicyEvaluator.Evaluate"/> reports its progress and stops when cancelled.</summary>
[TestFixture]
public sealed class ProgressTests
{
    /// <summary>Collects reports synchronously (<see cref="Progress{T}"/> would post them to the thread pool).</summary>
    sealed class Recorder(Action<EvaluationProgress>? onReport = null) : IProgress<EvaluationProgress>
    {
        public List<EvaluationProgress> Reports { get; } = [];
        public void Report(EvaluationProgress value)
        {
            Reports.Add(value);
            onReport?.Invoke(value);
        }
    }

    [Test]
    public void Progress_Is_Reported_Per_Model_From_Zero_To_All_Prompts()
    {
        var recorder = new Recorder();
        var models = new[] { TestModels.Trained, TestModels.Untrained };
        PolicyEvaluator.Evaluate(models, HeldOutSource.FromSplit(50), new EvaluatorOptions { PromptsPerRow = 16 }, recorder);

        foreach (var (model, index) in models.Select((m, i) => (Path.GetFullPath(m), i + 1)))
        {
            var reports = recorder.Reports.Where(r => r.ModelPath == model).ToList();
            Assert.That(reports.Select(r => (r.Model, r.Models)), Has.All.EqualTo((index, 2)));
            Assert.That(reports.Select(r => r.PromptsScored), Is.EqualTo(new[] { 0, 16, 32, 48, 50 }), "once at the start, then after each row of 16");
            Assert.That(reports.Select(r => r.Prompts), Has.All.EqualTo(50));
        }
    }

    [Test]
    public void Cancelling_Stops_The_Evaluation_Between_Rows()
    {
        using var cancel = new CancellationTokenSource();
        var recorder = new Recorder(r => { if (r.PromptsScored >= 16) cancel.Cancel(); });
        Assert.That(() => PolicyEvaluator.Evaluate([TestModels.Trained, TestModels.Untrained], HeldOutSource.FromSplit(50),
                new EvaluatorOptions { PromptsPerRow = 16 }, recorder, cancel.Token),
            Throws.InstanceOf<OperationCanceledException>());
        Assert.That(recorder.Reports.Max(r => r.PromptsScored), Is.EqualTo(16), "no row after the one that cancelled");
        Assert.That(recorder.Reports.Select(r => r.Model), Has.All.EqualTo(1), "the second model never started");
    }
}
