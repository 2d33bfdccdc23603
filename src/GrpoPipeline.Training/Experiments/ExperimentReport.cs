using System.Globalization;
using System.Text.Json;
using GrpoPipeline.Core;

namespace GrpoPipeline.Training.Experiments;

/// <summary>
/// An experiment's report: a Markdown page with one table row per variant (<c>&lt;name&gt;.md</c>), and the
/// summaries and raw runs as JSON (<c>&lt;name&gt;.json</c>).
/// </summary>
public sealed class ExperimentReport
{
    readonly ExperimentDefinition _experiment;
    readonly TrainConfig _config;
    readonly double _target;
    readonly IReadOnlyList<ExperimentRun> _runs;
    readonly string _commandLine;
    readonly int _runsAtATime;

    /// <summary>The report of <paramref name="runs"/>, all of <paramref name="experiment"/> on <paramref name="config"/>.</summary>
    /// <param name="experiment">The experiment: its name, title and variant header.</param>
    /// <param name="config">The config it varied (the base config, before any variant).</param>
    /// <param name="target">The held-out exact match whose time to reach is reported, 0 &lt; target ≤ 1.</param>
    /// <param name="runs">Every run, in variant then seed order.</param>
    /// <param name="commandLine">The command that reproduces it, quoted in the page.</param>
    /// <param name="runsAtATime">Runs that shared the machine at a time: above one, the page says the times are per shared machine.</param>
    public ExperimentReport(ExperimentDefinition experiment, TrainConfig config, double target, IReadOnlyList<ExperimentRun> runs, string commandLine, int runsAtATime = 1)
    {
        (_experiment, _config, _target, _runs, _commandLine, _runsAtATime) = (experiment, config, target, runs, commandLine, runsAtATime);
        Summaries = ExperimentStatistics.Summarize(runs, target);
        Table = MarkdownTable(Summaries, config, target, experiment.VariantHeader);
    }

    /// <summary>One summary per variant, in the order of the runs.</summary>
    public IReadOnlyList<VariantSummary> Summaries { get; }

    /// <summary>The Markdown table: final reward, final held-out exact, and the times to the target, per variant.</summary>
    public string Table { get; }

    /// <summary>The Markdown page: the experiment's description as title, the config and command, and <see cref="Table"/>.</summary>
    public string Markdown =>
        $"# {_experiment.Description}\n\nConfig `{_config.RunName}`, produced by `{_commandLine}`. " +
        "Times are training wall time on this machine (held-out evaluations excluded)" +
        (_runsAtATime > 1 ? $", with {_runsAtATime} runs sharing it at a time" : "") + ".\n\n" + Table;

    /// <summary>The command line, base config, target, summaries (<c>rows</c>) and runs as indented JSON.</summary>
    public string Json =>
        JsonSerializer.Serialize(new { command = _commandLine, config = _config, target = _target, rows = Summaries, runs = _runs }, TrainConfig.Json);

    /// <summary>Writes <see cref="Markdown"/> and <see cref="Json"/> to <c>&lt;name&gt;.md</c> and <c>&lt;name&gt;.json</c> in <paramref name="directory"/>, atomically.</summary>
    public void Write(string directory)
    {
        AtomicFile.WriteAllText(Path.Combine(directory, $"{_experiment.Name}.md"), Markdown);
        AtomicFile.WriteAllText(Path.Combine(directory, $"{_experiment.Name}.json"), Json);
    }

    static string MarkdownTable(IReadOnlyList<VariantSummary> rows, TrainConfig config, double target, string variantHeader)
    {
        string t = Percent(target);
        var task = TaskRegistry.Create(config.Task);
        double maxReward = task.MaxReward(task.Weights(config.Rewards), task.MaxPromptLength);
        var lines = new List<string>
        {
            $"| {variantHeader} | seeds | final mean reward (max {maxReward.ToString("0.##", CultureInfo.InvariantCulture)}) | final held-out exact | reached {t} | time to {t}: median [range] | epochs to {t}: median | lowest after reaching | ≥ {t} to the end from: median [range] |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        };
        foreach (var r in rows)
        {
            string median = MedianAndRange(r.SecondsToTarget, r.MedianSecondsToTarget, "not reached");
            string holding = MedianAndRange(r.SecondsToHolding, r.MedianSecondsToHolding, "never");
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Variant} | {r.Seeds} | {r.FinalRewardMean:F3} ± {r.FinalRewardStd:F3} | {Percent(r.HeldOutExactMean)} ± {Percent(r.HeldOutExactStd)} | " +
                $"{r.Reached}/{r.Seeds} | {median} | {(r.MedianEpochsToTarget is { } e ? e.ToString("0") : "not reached")} | {(r.LowestAfterTarget is { } low ? Percent(low) : "")} | {holding} |"));
        }
        return string.Join('\n', lines) + "\n";
    }

    /// <summary>"89 s [73 s, 91 s]": the median (or <paramref name="never"/>) and the range, a missing run being the slowest.</summary>
    static string MedianAndRange(double?[] seconds, double? median, string never)
    {
        var times = seconds.Where(s => s is not null).Select(s => s!.Value).ToList();
        string range = times.Count == 0 ? "" : $" [{Seconds(times.Min())}, {(times.Count < seconds.Length ? never : Seconds(times.Max()))}]";
        return (median is { } m ? Seconds(m) : never) + range;
    }

    static string Percent(double share) => (share * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%";
    static string Seconds(double s) => s.ToString("0", CultureInfo.InvariantCulture) + " s";
}
