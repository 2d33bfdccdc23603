using System.Diagnostics;

namespace GrpoPipeline.Inference.Tests;

/// <summary>
/// The test assembly's entry point. Tests start it as a child process for checks that could take the process down
/// with them (a native crash would abort the whole test run instead of failing one test).
/// </summary>
static class Program
{
    public const string UseAfterDispose = "use-after-dispose";

    public static int Main(string[] args) => args switch
    {
        [UseAfterDispose, var model, var method] => CallAfterDispose(model, method),
        _ => Usage(),
    };

    static int Usage()
    {
        Console.Error.WriteLine($"usage: {UseAfterDispose} <model.onnx> <Sort|RespondBatch|Logits|LogitsBatch|Sample>");
        return 2;
    }

    /// <summary>
    /// Exit 0 when the call threw <see cref="ObjectDisposedException"/> or another <see cref="InvalidOperationException"/>,
    /// 3 when it threw something else (e.g. an ONNX Runtime error from reading freed memory), 1 when it returned;
    /// a native crash shows up as 128 + signal.
    /// </summary>
    static int CallAfterDispose(string model, string method)
    {
        var policy = OnnxPolicy.Load(model);
        var prompt = new long[policy.PromptLength];
        policy.Dispose();
        Console.Out.Flush();
        try
        {
            object result = method switch
            {
                "Sort" => policy.Respond(prompt),
                "RespondBatch" => policy.RespondBatch([prompt]),
                "Logits" => policy.Logits(prompt),
                "LogitsBatch" => policy.LogitsBatch([prompt]),
                "Sample" => policy.Sample(prompt, 4),
                _ => throw new ArgumentException($"unknown method '{method}'"),
            };
            Console.WriteLine($"{method} after Dispose returned a {result.GetType().Name}");
            return 1;
        }
        catch (Exception e)
        {
            Console.WriteLine($"{method} after Dispose threw {e.GetType().Name}: {e.Message}");
            return e is InvalidOperationException ? 0 : 3;
        }
    }

    /// <summary>Runs this assembly as a program with <paramref name="args"/>; returns its exit code and output.</summary>
    public static (int ExitCode, string Output) RunChild(params string[] args)
    {
        var host = Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet"
            ? self
            : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        var start = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(typeof(Program).Assembly.Location);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            return (-1, stdout + stderr.Result + " (timed out)");
        }
        return (process.ExitCode, (stdout + stderr.Result).Trim());
    }
}
