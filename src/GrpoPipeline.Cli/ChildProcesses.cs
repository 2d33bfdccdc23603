using System.Diagnostics;
using System.Runtime.InteropServices;

namespace GrpoPipeline.Cli;

/// <summary>
/// grpo starting grpo: the supervised trainer, and an experiment's shards. Each child runs in a session of its own
/// (setsid) and shares this process's console, so a terminal's Ctrl+C reaches only this process, which passes it on
/// once with <see cref="Terminate"/>: the child stops cleanly instead of seeing the stop twice (the second means "quit
/// at once").
/// </summary>
static class ChildProcesses
{
    const string SetSid = "/usr/bin/setsid";
    const int SigTerm = 15;

    /// <summary>Starts this program again with <paramref name="args"/> (after the command name's place: the whole command line).</summary>
    public static Process StartSelf(IEnumerable<string> args)
    {
        var host = Environment.ProcessPath ?? "dotnet";
        // Under `dotnet grpo.dll` the process is dotnet: pass the entry assembly first.
        string[] prefix = Path.GetFileNameWithoutExtension(host) == "dotnet" ? [typeof(ChildProcesses).Assembly.Location] : [];
        var start = new ProcessStartInfo(File.Exists(SetSid) ? SetSid : host) { UseShellExecute = false };
        if (File.Exists(SetSid)) start.ArgumentList.Add(host);
        foreach (var arg in prefix.Concat(args)) start.ArgumentList.Add(arg);
        return Process.Start(start) ?? throw new InvalidOperationException($"could not start {host}");
    }

    /// <summary>
    /// Asks <paramref name="child"/> to stop cleanly. SIGTERM, not SIGINT: a process started in the background of a
    /// non-interactive shell inherits SIGINT ignored, and a child started from a script would then never hear the stop.
    /// </summary>
    public static void Terminate(Process child)
    {
        if (!child.HasExited) kill(child.Id, SigTerm);
    }

    [DllImport("libc", SetLastError = true)]
    static extern int kill(int pid, int sig);
}
