using GrpoPipeline.Training.Policies;
using GrpoPipeline.Core;
using static TorchSharp.torch;

namespace GrpoPipeline.Training;

/// <summary>
/// The length / difficulty curriculum of <see cref="CurriculumOptions"/>: which task a level samples from, and when the
/// level rises. The level itself lives in <see cref="TrainingState.CurriculumLevel"/>, so checkpoints keep it.
/// </summary>
sealed class Curriculum(TaskOptions task, RewardFunction reward)
{
    readonly CurriculumOptions _options = task.Curriculum ?? throw new ArgumentException("the task has no curriculum", nameof(task));
    readonly Dictionary<int, (VerifiableTask Task, GreedyEvaluator HeldOut)> _levels = [];

    /// <summary>The task at <paramref name="level"/>: training prompts are drawn from it.</summary>
    public VerifiableTask TaskAt(int level) => Level(level).Task;

    /// <summary>
    /// After 1-based epoch <paramref name="epoch"/>: when a check is due and the level is not the last, evaluates the
    /// held-out prompts of <paramref name="level"/> and returns their exact match with the level to train at next.
    /// </summary>
    public (int Level, double? Exact) Check(int level, int epoch, GrpoPolicy policy)
    {
        if (level >= task.FinalLevel || epoch % _options.Every != 0) return (level, null);
        double exact = Level(level).HeldOut.Evaluate(policy).Exact;
        return (NextLevel(level, exact, _options, task.FinalLevel), exact);
    }

    /// <summary>The rule: up by step (capped at the last level) when exact ≥ threshold, else unchanged.</summary>
    public static int NextLevel(int level, double exact, CurriculumOptions options, int finalLevel) =>
        exact >= options.Threshold ? Math.Min(finalLevel, level + options.Step) : level;

    (VerifiableTask Task, GreedyEvaluator HeldOut) Level(int level)
    {
        if (!_levels.TryGetValue(level, out var entry))
        {
            var levelTask = reward.Task.AtLevel(level);
            // Held-out prompts of this level, scored as the whole task scores them.
            entry = (levelTask, new GreedyEvaluator(levelTask.HeldOutPrompts(_options.HeldOutSize, task.HeldOutSeed), reward));
            _levels[level] = entry;
        }
        return entry;
    }
}
