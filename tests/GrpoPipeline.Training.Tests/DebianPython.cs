using System.Diagnostics;
using NUnit.Framework;

namespace GrpoPipeline.Training.Tests;

/// <summary>
/// Debian's own Python, for the tests that check our files with the reference tools (PyTorch, onnx): those install
/// into /usr/bin/python3 (apt-get install python3-torch python3-onnx), not into a pyenv or venv interpreter. When the
/// machine lacks one, the test is skipped with the command that installs it — except on CI (<c>CI=true</c>, which
/// <c>.ci/run</c> sets after installing both), where a missing reference tool fails the test instead of going unnoticed.
/// </summary>
static class DebianPython
{
    public const string Path = "/usr/bin/python3";

    /// <summary>Skips the calling test unless <see cref="Path"/> can import <paramref name="module"/>.</summary>
    public static void Require(string module, string package)
    {
        if (!File.Exists(Path))
            Skip($"{Path} is missing. Install Debian's python3 and {package} (apt-get install {package}) to run it.");
        var probe = Run("-c", $"import {module}");
        if (probe.ExitCode != 0)
            Skip($"{Path} has no {module} module ({probe.StdErr.Trim().Split('\n')[^1]}). Install Debian's {package} (apt-get install {package}) to run it.");
    }

    static void Skip(string why)
    {
        if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail($"On CI the reference tools must be present: {why}");
        Assert.Ignore($"Skipped: {why}");
    }

    /// <summary>Runs the interpreter with <paramref name="args"/>; fails the test if it takes over two minutes.</summary>
    public static (int ExitCode, string StdOut, string StdErr) Run(params string[] args)
    {
        var start = new ProcessStartInfo(Path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{Path} {string.Join(' ', args)} did not finish within 2 minutes");
        }
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}
