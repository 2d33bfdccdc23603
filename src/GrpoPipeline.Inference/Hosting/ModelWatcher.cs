using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GrpoPipeline.Inference.Hosting;

/// <summary>
/// Loads the model when the host starts, then reloads it when its file changes. A <see cref="FileSystemWatcher"/> on
/// the model's folder catches atomic replacements (write a temp file, rename it over the model); a cheap poll of the
/// file's last-write time and size backs it up where watcher events get lost (network mounts, overflowing buffers).
/// Both only arm a debounce timer, so a burst of events, or a file still being written, gives one reload.
/// </summary>
sealed partial class ModelWatcher(PolicyHost host, IOptions<PolicyModelOptions> options, ILogger<ModelWatcher> logger) : IHostedService, IDisposable
{
    readonly PolicyModelOptions _options = options.Value;
    readonly Lock _gate = new();
    FileSystemWatcher? _watcher;
    Timer? _debounce;
    Timer? _poll;
    FileSignature _seen;
    bool _stopped;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _seen = FileSignature.Of(host.ModelPath);
        host.LoadInitial();
        if (!_options.HotReload) return Task.CompletedTask;

        _debounce = new Timer(_ => Reload(), null, Timeout.Infinite, Timeout.Infinite);
        var folder = Path.GetDirectoryName(host.ModelPath)!;
        _watcher = new FileSystemWatcher(folder)
        {
            IncludeSubdirectories = false,
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
        };
        _watcher.Changed += OnFileEvent;
        _watcher.Created += OnFileEvent;
        _watcher.Renamed += OnFileEvent;
        _watcher.Error += (_, e) =>
        {
            LogWatcherError(e.GetException(), folder);
            Schedule();
        };
        _watcher.EnableRaisingEvents = true;
        if (_options.ReloadPollMilliseconds > 0)
            _poll = new Timer(_ => Poll(), null, _options.ReloadPollMilliseconds, _options.ReloadPollMilliseconds);
        LogWatching(host.ModelPath, _options.ReloadPollMilliseconds);
        return Task.CompletedTask;
    }

    void OnFileEvent(object sender, FileSystemEventArgs e)
    {
        if (string.Equals(e.FullPath, host.ModelPath, StringComparison.Ordinal)) Schedule();
    }

    void Poll()
    {
        var signature = FileSignature.Of(host.ModelPath);
        bool changed;
        lock (_gate) changed = signature != _seen;
        if (changed) Schedule();
    }

    void Schedule()
    {
        lock (_gate)
        {
            if (!_stopped) _debounce?.Change(_options.ReloadDebounceMilliseconds, Timeout.Infinite);
        }
    }

    void Reload()
    {
        var signature = FileSignature.Of(host.ModelPath);
        if (signature.Length < 0)
        {
            // The file was deleted (or is mid-rename on a system without atomic rename): keep serving.
            LogMissing(host.ModelPath);
            lock (_gate) _seen = signature;
            return;
        }
        // Recorded before loading, so a rejected file is not retried on every poll; a new write changes it again.
        // A late duplicate event for a file already handled finds its signature seen and reloads nothing.
        lock (_gate)
        {
            if (signature == _seen) return;
            _seen = signature;
        }
        host.TryReload();
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        lock (_gate) _stopped = true;
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        lock (_gate) _stopped = true;
        _watcher?.Dispose();
        _poll?.Dispose();
        _debounce?.Dispose();
    }

    /// <summary>What the poll compares: last-write time and size; length −1 when there is no file.</summary>
    readonly record struct FileSignature(DateTime LastWriteUtc, long Length)
    {
        public static FileSignature Of(string path)
        {
            try
            {
                var info = new FileInfo(path);
                return info.Exists ? new FileSignature(info.LastWriteTimeUtc, info.Length) : new FileSignature(default, -1);
            }
            catch (IOException) { return new FileSignature(default, -1); }
            catch (UnauthorizedAccessException) { return new FileSignature(default, -1); }
        }
    }

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "Watching {Path} for replacements (poll every {PollMs} ms as a fallback)")]
    partial void LogWatching(string path, int pollMs);

    [LoggerMessage(EventId = 11, Level = LogLevel.Warning, Message = "The model file {Path} is gone; still serving the loaded model")]
    partial void LogMissing(string path);

    [LoggerMessage(EventId = 12, Level = LogLevel.Warning, Message = "File watcher on {Folder} failed; relying on the poll")]
    partial void LogWatcherError(Exception exception, string folder);
}
