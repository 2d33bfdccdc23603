using System.CommandLine;
using GrpoPipeline.Service;
using Microsoft.Extensions.Hosting;

namespace GrpoPipeline.Cli;

/// <summary><c>grpo serve --model &lt;file.onnx&gt; [--urls http://127.0.0.1:5080]</c>: the HTTP service over an exported model.</summary>
static class ServeCommand
{
    public static Command Create()
    {
        var model = new Option<FileInfo>("--model") { Description = "The exported .onnx policy to serve (hot-reloaded when replaced).", Required = true };
        var urls = new Option<string>("--urls") { Description = "Listening URLs.", DefaultValueFactory = _ => "http://127.0.0.1:5080" };
        var command = new Command("serve", "Serve an exported policy over HTTP (POST /v1/respond, /v1/respond/batch, /v1/sample; GET /v1/model; /v1/sort for sorting models).") { model, urls };
        command.SetAction(async (parse, cancel) =>
        {
            var path = parse.GetValue(model)!.FullName;
            if (!File.Exists(path))
            {
                Console.Error.WriteLine($"error: no model at '{path}'; export one with 'grpo export' first");
                return Cli.BadInput;
            }
            try
            {
                await using var app = ServiceApp.Build(ServiceApp.Arguments(path, parse.GetValue(urls)));
                await app.StartAsync(cancel);
                await app.WaitForShutdownAsync(cancel);
                return Cli.Ok;
            }
            catch (Exception e) when (e is Microsoft.Extensions.Options.OptionsValidationException or GrpoPipeline.Inference.OnnxContractException)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return Cli.BadInput;
            }
        });
        return command;
    }
}
