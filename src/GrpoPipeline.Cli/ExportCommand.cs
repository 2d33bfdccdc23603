using System.CommandLine;
using GrpoPipeline.Core;
using GrpoPipeline.Training;
using GrpoPipeline.Training.Onnx;
using Microsoft.Extensions.Logging;

namespace GrpoPipeline.Cli;

/// <summary><c>grpo export --checkpoint &lt;run-dir|checkpoint-dir&gt; [--format onnx|safetensors|genai] [--output &lt;file|folder&gt;]</c></summary>
static class ExportCommand
{
    enum ExportFormat { Onnx, Safetensors, GenAi }

    public static Command Create()
    {
        var checkpoint = new Option<DirectoryInfo>("--checkpoint") { Description = "A run directory (its latest checkpoint) or a checkpoint folder.", Required = true };
        var format = new Option<string>("--format")
        {
            Description = "onnx: the ONNX model for inference. safetensors: the weights under the checkpoint's names, plus <name>.json with the policy shape and config. " +
                          "genai: a folder ONNX Runtime GenAI runs (model.onnx, genai_config.json, grpo.json), for decoders numbering positions from the prompt's start.",
            DefaultValueFactory = _ => "onnx",
        };
        var output = new Option<string?>("--output") { Description = "The file to write (default models/<run-name>.onnx or .safetensors), or for genai the folder (default models/<run-name>-genai/)." };
        var command = new Command("export", "Export a checkpoint's policy to ONNX or safetensors.") { checkpoint, format, output };
        command.SetAction(parse => Cli.Execute(log =>
        {
            var kind = ParseFormat(parse.GetValue(format)!);
            var source = parse.GetValue(checkpoint)!.FullName;
            var manifest = Checkpoint.ReadManifest(Checkpoint.Resolve(source));
            var suffix = kind switch { ExportFormat.Onnx => ".onnx", ExportFormat.Safetensors => SafetensorsExporter.FileExtension, _ => "-genai" };
            var path = Path.GetFullPath(parse.GetValue(output) ?? Path.Combine("models", manifest.Config.RunName + suffix));
            try
            {
                switch (kind)
                {
                    case ExportFormat.Onnx: OnnxExporter.Export(source, path); break;
                    case ExportFormat.Safetensors: SafetensorsExporter.Export(source, path); break;
                    case ExportFormat.GenAi: GenAiExporter.Export(source, path); break;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The exporter writes through a temporary file that a failure removes: nothing partial is left.
                throw new RunStorageException($"could not write the exported model to '{path}': {e.Message}", e);
            }
            log.LogInformation("Exported {Policy} policy of run {Run} at epoch {Epoch} to {Path}", manifest.Shape.Options.Kind, manifest.Config.RunName, manifest.Epoch, path);
            if (kind == ExportFormat.Safetensors)
                log.LogInformation("Policy shape and config: {Manifest}", SafetensorsExporter.ManifestPathFor(path));
            if (kind == ExportFormat.GenAi)
                log.LogInformation("ONNX Runtime GenAI folder: {Model}, {Config}, {Info} (input ids: prompt then SEP; response: the tokens after it up to EOS)",
                    GenAiExporter.ModelFile, GenAiExporter.ConfigFile, GenAiExporter.InfoFile);
            return Cli.Ok;
        }));
        return command;
    }

    static ExportFormat ParseFormat(string value) => value.ToLowerInvariant() switch
    {
        "onnx" => ExportFormat.Onnx,
        "safetensors" => ExportFormat.Safetensors,
        "genai" => ExportFormat.GenAi,
        _ => throw new ConfigException("--format", $"--format '{value}' is not supported; use onnx, safetensors or genai"),
    };
}
