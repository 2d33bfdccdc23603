using System.CommandLine;
using GrpoPipeline.Training;
using GrpoPipeline.Training.Onnx;
using Microsoft.Extensions.Logging;

namespace GrpoPipeline.Cli;

/// <summary><c>grpo export --checkpoint &lt;run-dir|checkpoint-dir&gt; --output &lt;file.onnx&gt;</c></summary>
static class ExportCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<DirectoryInfo>("--checkpoint") { Description = "A run directory (its latest checkpoint) or a checkpoint folder.", Required = true };
        var output = new Option<FileInfo?>("--output") { Description = "The .onnx file to write (default models/<run-name>.onnx)." };
        var command = new Command("export", "Export a checkpoint's policy to ONNX.") { checkpoint, output };
        command.SetAction(parse => Cli.Execute(log =>
        {
            var source = parse.GetValue(checkpoint)!.FullName;
            var manifest = Checkpoint.ReadManifest(Checkpoint.Resolve(source));
            var path = parse.GetValue(output)?.FullName ?? Path.GetFullPath(Path.Combine("models", $"{manifest.Config.RunName}.onnx"));
            OnnxExporter.Export(source, path);
            log.LogInformation("Exported {Policy} policy of run {Run} at epoch {Epoch} to {Path}", manifest.Shape.Options.Kind, manifest.Config.RunName, manifest.Epoch, path);
            return Cli.Ok;
        }));
        return command;
    }
}
