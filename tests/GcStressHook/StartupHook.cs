// The runtime looks for a type named StartupHook, outside any namespace, with a static Initialize().
#pragma warning disable CA1050

/// <summary>
/// Started by the runtime before <c>Main</c> when <c>DOTNET_STARTUP_HOOKS</c> names this assembly: a background thread
/// that collects and finalizes continuously, so a native call that reads an unrooted object meets a collection within
/// seconds instead of once a night.
/// </summary>
internal static class StartupHook
{
    public static void Initialize()
    {
        var thread = new Thread(() =>
        {
            while (true)
            {
                GC.KeepAlive(new byte[4096]);
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
        })
        { IsBackground = true, Name = "gc-stress" };
        thread.Start();
        Console.Error.WriteLine("gc-stress: collecting and finalizing continuously on a second thread");
    }
}
