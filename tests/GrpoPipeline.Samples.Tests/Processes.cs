using System.Diagnostics;
using NUnit.Framework;

namespace GrpoPipeline.Samples.Tests;

/// <summary>Runs <c>dotnet</c> commands the way a user would, and fails with their output when they fail.</summary>
static class Processes
{
    public sealed record Result(int ExitCode, string Output)
    {
        public override string ToString() => $"exit {ExitCode}\n{Output}";
    }

    /// <summary>The dotnet host running this test, or the one on PATH.</summary>
    public static string Dotnet
    {
        get
        {
            var self = Environment.ProcessPath;
            if (self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
            return Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        }
    }

    public static Result Run(string workingDirectory, TimeSpan timeout, params string[] args) => RunWithInput(workingDirectory, timeout, null, args);

    /// <summary>Runs with <paramref name="input"/> (when not null) written to standard input, then closed.</summary>
    public static Result RunWithInput(string workingDirectory, TimeSpan timeout, string? input, params string[] args)
    {
        var start = Start(workingDirectory, args);
        start.RedirectStandardInput = input is not null;
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        if (input is not null)
        {
            process.StandardInput.Write(input);
            process.StandardInput.Close();
        }
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"dotnet {string.Join(' ', args)} did not finish within {timeout}:\n{stdout.Result}{stderr.Result}");
        }
        return new Result(process.ExitCode, (stdout.Result + stderr.Result).Trim());
    }

    /// <summary>Runs and asserts exit code 0, showing the output otherwise.</summary>
    public static string Succeed(string workingDirectory, TimeSpan timeout, params string[] args)
    {
        var result = Run(workingDirectory, timeout, args);
        Assert.That(result.ExitCode, Is.Zero, $"dotnet {string.Join(' ', args)} failed:\n{result}");
        return result.Output;
    }

    public static ProcessStartInfo Start(string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo(Dotnet)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        return start;
    }
}
