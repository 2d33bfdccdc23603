using System.CommandLine;
using GrpoPipeline.Evaluation;
using Microsoft.Extensions.Logging;

namespace GrpoPipeline.Cli;

/// <summary><c>grpo plot --run-dir &lt;dir&gt;</c>: writes &lt;dir&gt;/training.png from metrics.jsonl.</summary>
static class PlotCommand
{
    public static Command Create()
    {
        var runDir = new Option<DirectoryInfo>("--run-dir") { Description = "A run directory (with metrics.jsonl).", Required = true };
        var command = new Command("plot", "Plot a run's training curves (reward ± std, exact match, KL, clip ratios) to <run-dir>/training.png.") { runDir };
        command.SetAction(parse => Cli.Execute(log =>
        {
            try
            {
                var png = TrainingPlot.Write(parse.GetValue(runDir)!.FullName);
                log.LogInformation("Wrote {Png}", png);
                return Cli.Ok;
            }
            catch (EvaluationException e)
            {
                log.LogError("{Message}", e.Message);
                return Cli.BadInput;
            }
        }));
        return command;
    }
}
