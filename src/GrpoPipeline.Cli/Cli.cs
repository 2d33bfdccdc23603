using System.CommandLine;
using System.Runtime.InteropServices;
using GrpoPipeline.Core;
using GrpoPipeline.Training;
using Microsoft.Extensions.Logging;

namespace GrpoPipeline.Cli;

/// <summary>Exit codes, logging and error reporting shared by every command.</summary>
static class Cli
{
    /// <summary>
    /// Exit codes: 0 done; 1 an unexpected failure; 2 the user's mistake (config, options, an unusable run directory);
    /// 3 the run directory cannot be written (a full disk, no permission); 130 stopped by Ctrl+C or SIGTERM.
    /// </summary>
    public const int Ok = 0, Failed = 1, BadInput = 2, StorageFailed = 3, Cancelled = 130;

    public static async Task<int> RunAsync(RootCommand root, string[] args)
    {
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors) Console.Error.WriteLine($"error: {error.Message}");
            Console.Error.WriteLine("Run 'grpo --help' for usage.");
            return BadInput;
        }
        // The first Ctrl+C (or SIGTERM) asks the command to stop cleanly — training saves a checkpoint and exits 130;
        // a second one ends the process at once. System.CommandLine's own handler is off: it registers only after an
        // action's InvokeAsync returns, which for our synchronous actions is after the work is done.
        using var stop = new CancellationTokenSource();
        void OnSignal(PosixSignalContext context)
        {
            if (stop.IsCancellationRequested) return;   // the second signal: let the runtime end the process
            context.Cancel = true;
            Console.Error.WriteLine($"{context.Signal}: stopping cleanly (training saves a checkpoint); signal again to quit at once");
            stop.Cancel();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null }, stop.Token);
    }

    /// <summary>Runs a command body with a console logger, mapping the user's mistakes to exit code 2 with one clear line.</summary>
    public static int Execute(Func<ILogger, int> body)
    {
        using var factory = LoggerFactory.Create(b => b
            .AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; })
            .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Warning)   // errors on stderr, progress on stdout
            .SetMinimumLevel(LogLevel.Information));
        var log = factory.CreateLogger("grpo");
        try
        {
            return body(log);
        }
        catch (Exception e) when (e is ConfigException or RunDirectoryException or CheckpointException)
        {
            log.LogError("{Message}", e.Message);
            return BadInput;
        }
        catch (RunStorageException e)
        {
            log.LogError("{Message}", e.Message);
            return StorageFailed;
        }
        catch (Exception e)
        {
            log.LogCritical(e, "grpo failed");
            return Failed;
        }
    }
}
