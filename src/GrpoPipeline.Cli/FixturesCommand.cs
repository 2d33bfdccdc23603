using System.CommandLine;
using GrpoPipeline.Training;
using Microsoft.Extensions.Logging;

namespace GrpoPipeline.Cli;

/// <summary><c>grpo fixtures [--out tests/fixtures]</c>: writes the test suites' small ONNX models (<see cref="FixtureModels"/>).</summary>
static class FixturesCommand
{
    public static Command Create()
    {
        var output = new Option<DirectoryInfo>("--out") { Description = "Folder to write the fixtures into.", DefaultValueFactory = _ => new DirectoryInfo("tests/fixtures") };
        var command = new Command("fixtures", "Train and export the small, reproducible models the Inference, Service and Evaluation tests use.") { output };
        command.SetAction(parse => Cli.Execute(log =>
        {
            foreach (var path in FixtureModels.WriteAll(parse.GetValue(output)!.FullName))
                log.LogInformation("Wrote {Path}", path);
            return Cli.Ok;
        }));
        return command;
    }
}
