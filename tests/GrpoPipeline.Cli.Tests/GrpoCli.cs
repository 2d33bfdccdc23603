using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using NUnit.Framework;

namespace GrpoPipeline.Cli.Tests;

/// <summary>What a finished <c>grpo</c> process printed, and its exit code.</summary>
sealed record GrpoResult(int ExitCode, string StdOut, string StdErr)
{
    public string Output => StdOut + StdErr;
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{StdOut}\n--- stderr\n{StdErr}";
}

/// <summary>
/// The built CLI (the grpo.dll the project reference copies next to this assembly) in its own process, as a user runs
/// it: to completion, or started and then interrupted with a signal.
/// </summary>
static class GrpoCli
{
    static readonly TimeSpan Limit = TimeSpan.FromMinutes(3);

    /// <summary>Runs <c>grpo</c> with <paramref name="args"/> in <paramref name="workingDirectory"/> and waits for it.</summary>
    public static GrpoResult Run(string workingDirectory, params string[] args)
    {
        using var run = Start(workingDirectory, args);
        return run.WaitForExit();
    }

    /// <summary>Starts <c>grpo</c>; the caller waits, signals or kills it.</summary>
    public static GrpoRun Start(string workingDirectory, params string[] args) => Start(workingDirectory, null, args);

    /// <summary>Starts <c>grpo</c> with extra environment variables.</summary>
    public static GrpoRun Start(string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var dll = Path.Combine(TestContext.CurrentContext.TestDirectory, "grpo.dll");
        Assert.That(File.Exists(dll), Is.True, $"{dll} is missing: the Cli project reference should copy it");
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        start.ArgumentList.Add(dll);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        return new GrpoRun(Process.Start(start)!, $"grpo {string.Join(' ', args)}", Limit);
    }

    /// <summary>The dotnet host running this test, or the one on PATH.</summary>
    static string DotnetHost()
    {
        var self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        return Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
    }
}

/// <summary>A running <c>grpo</c> process whose output is collected as it comes.</summary>
sealed class GrpoRun : IDisposable
{
    readonly Process _process;
    readonly string _command;
    readonly TimeSpan _limit;
    readonly StringBuilder _stdout = new(), _stderr = new();

    public GrpoRun(Process process, string command, TimeSpan limit)
    {
        (_process, _command, _limit) = (process, command, limit);
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_stdout) _stdout.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public bool HasExited => _process.HasExited;

    /// <summary>What the process printed so far, stdout then stderr.</summary>
    public string Output
    {
        get { lock (_stdout) lock (_stderr) return _stdout.ToString() + _stderr; }
    }

    /// <summary>The integer captured by <paramref name="pattern"/>'s first group in its last match in the output.</summary>
    public int LastMatch(string pattern) => int.Parse(System.Text.RegularExpressions.Regex.Matches(Output, pattern).Last().Groups[1].Value);

    /// <summary>Sends <paramref name="signal"/> to any process: 0 on success.</summary>
    public static int Kill(int pid, int signal) => kill(pid, signal);

    /// <summary>Polls <paramref name="condition"/> until it holds; fails the test if the process ends first or the limit passes.</summary>
    public void WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + _limit;
        while (!condition())
        {
            if (_process.HasExited) Assert.Fail($"{_command} ended before {what}:\n{Snapshot(_process.ExitCode)}");
            if (DateTime.UtcNow > deadline) Assert.Fail($"{_command}: no {what} within {_limit}");
            Thread.Sleep(20);
        }
    }

    /// <summary>Sends <paramref name="signal"/> (e.g. SIGINT = 2, as Ctrl+C does).</summary>
    public void Signal(int signal) => Assert.That(kill(_process.Id, signal), Is.Zero, $"kill({_process.Id}, {signal})");

    /// <summary>Kills the process at once, as <c>kill -9</c> does: no handler runs, nothing is flushed.</summary>
    public void KillHard() => Signal(9);

    public GrpoResult WaitForExit()
    {
        if (!_process.WaitForExit(_limit))
        {
            _process.Kill(entireProcessTree: true);
            Assert.Fail($"{_command} did not finish within {_limit}");
        }
        _process.WaitForExit();   // drains the asynchronous output readers
        var result = Snapshot(_process.ExitCode);
        TestContext.Out.WriteLine($"$ {_command}\n{result}");
        return result;
    }

    GrpoResult Snapshot(int exitCode)
    {
        lock (_stdout) lock (_stderr) return new GrpoResult(exitCode, _stdout.ToString(), _stderr.ToString());
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }

    [DllImport("libc", SetLastError = true)]
    static extern int kill(int pid, int sig);
}
