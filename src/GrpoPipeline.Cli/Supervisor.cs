using System.Diagnostics;
using System.Text.Json;
using GrpoPipeline.Training;
using Microsoft.Extensions.Logging;

namespace GrpoPipeline.Cli;

/// <summary>
/// <c>grpo train --supervise</c>: runs the trainer as a child process and, when the child dies abnormally (a signal, a
/// native crash, the OOM killer, an unexpected failure), resumes it from its last good checkpoint, up to
/// <c>--max-restarts</c> times with a doubling back-off. A clean stop (Ctrl+C, SIGTERM: exit 130), a finished run and
/// the user's mistakes (exit 2, 3) are never restarted. Each restart is a line of the run's <c>events.jsonl</c>.
/// </summary>
static class Supervisor
{
    /// <summary>The run's event log: one JSON object per line, beside metrics.jsonl.</summary>
    public const string EventsFile = "events.jsonl";

    static readonly TimeSpan FirstBackOff = TimeSpan.FromSeconds(1), MaxBackOff = TimeSpan.FromSeconds(30);

    /// <param name="trainArgs">The <c>train</c> command line without <c>--supervise</c>: what the first child runs.</param>
    /// <param name="run">The run directory the child trains in.</param>
    /// <param name="freshRun">Whether the first child starts a new run (so a restart before any checkpoint starts it again).</param>
    /// <param name="epochs">An --epochs override, carried into every resumed child.</param>
    /// <param name="maxRestarts">Restarts before giving up.</param>
    /// <param name="log">Where restarts are reported.</param>
    /// <param name="cancel">Ctrl+C or SIGTERM: passed on to the trainer, which stops cleanly and is not restarted.</param>
    public static int Run(IReadOnlyList<string> trainArgs, RunDirectory run, bool freshRun, int? epochs, int maxRestarts, ILogger log, CancellationToken cancel)
    {
        var args = trainArgs;
        var backOff = FirstBackOff;
        for (int restarts = 0; ; restarts++)
        {
            int exitCode = RunChild(args, log, cancel);
            if (exitCode is Cli.Ok or Cli.Cancelled or Cli.BadInput or Cli.StorageFailed || cancel.IsCancellationRequested)
            {
                if (cancel.IsCancellationRequested && exitCode != Cli.Ok) log.LogWarning("Stopped by a signal; the trainer exited {ExitCode}, not restarted", exitCode);
                return exitCode;
            }
            var reason = Describe(exitCode);
            if (restarts == maxRestarts)
            {
                log.LogError("The trainer {Reason}; gave up after {Restarts} restarts (--max-restarts)", reason, restarts);
                RecordEvent(run, new RestartEvent(DateTimeOffset.UtcNow, "gave_up", restarts, exitCode, reason, null));
                return Cli.Failed;
            }

            var checkpoint = run.LatestCheckpoint();
            if (checkpoint is null && !freshRun)
            {
                log.LogError("The trainer {Reason} and the run has no checkpoint to resume from", reason);
                return Cli.Failed;
            }
            log.LogWarning("The trainer {Reason}; restart {Restart} of at most {Max} in {Delay:F0} s from {Checkpoint}",
                reason, restarts + 1, maxRestarts, backOff.TotalSeconds, checkpoint ?? "the start (no checkpoint yet)");
            RecordEvent(run, new RestartEvent(DateTimeOffset.UtcNow, "restart", restarts + 1, exitCode, reason, checkpoint is null ? null : Path.GetFileName(checkpoint)));
            if (cancel.WaitHandle.WaitOne(backOff)) return Cli.Cancelled;
            backOff = TimeSpan.FromTicks(Math.Min(backOff.Ticks * 2, MaxBackOff.Ticks));

            if (checkpoint is null) ClearUnstartedRun(run);   // died before its first checkpoint: start it again
            else args = ["train", "--resume", "--run-dir", run.Root, .. epochs is { } e ? new[] { "--epochs", e.ToString() } : []];
        }
    }

    /// <summary>One line of <see cref="EventsFile"/>.</summary>
    public sealed record RestartEvent(DateTimeOffset Time, string Event, int Attempt, int ExitCode, string Reason, string? Checkpoint);

    static readonly JsonSerializerOptions EventJson = new(JsonSerializerDefaults.Web);

    static void RecordEvent(RunDirectory run, RestartEvent e)
    {
        Directory.CreateDirectory(run.Root);
        File.AppendAllText(Path.Combine(run.Root, EventsFile), JsonSerializer.Serialize(e, EventJson) + "\n");
    }

    /// <summary>A child killed before its first checkpoint leaves a run that cannot resume; this supervisor started it, so it clears it.</summary>
    static void ClearUnstartedRun(RunDirectory run)
    {
        foreach (var file in new[] { run.ConfigPath, run.MetricsPath }.Concat(Directory.EnumerateFiles(run.Root, "events.out.tfevents.*")))
            File.Delete(file);
        if (Directory.Exists(run.CheckpointsDir)) Directory.Delete(run.CheckpointsDir, recursive: true);
    }

    static string Describe(int exitCode) => exitCode > 128 && exitCode < 128 + 32
        ? $"was killed by signal {exitCode - 128} ({SignalName(exitCode - 128)})"
        : $"failed with exit code {exitCode}";

    static string SignalName(int signal) => signal switch
    {
        6 => "SIGABRT", 9 => "SIGKILL", 11 => "SIGSEGV", 7 => "SIGBUS", 15 => "SIGTERM", 2 => "SIGINT", _ => $"signal {signal}",
    };

    /// <summary>
    /// Runs one trainer (<see cref="ChildProcesses"/>: in a session of its own, a stop passed on exactly once).
    /// </summary>
    static int RunChild(IReadOnlyList<string> args, ILogger log, CancellationToken cancel)
    {
        using var child = ChildProcesses.StartSelf(args);
        log.LogInformation("Supervising trainer pid {Pid}: grpo {Args}", child.Id, string.Join(' ', args));
        using var forward = cancel.Register(() => ChildProcesses.Terminate(child));
        child.WaitForExit();
        return child.ExitCode;
    }
}
