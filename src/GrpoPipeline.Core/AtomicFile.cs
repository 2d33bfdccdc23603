namespace GrpoPipeline.Core;

/// <summary>
/// Writes files so that a reader, or a crash, sees either the old content or the new, never a torn file: the content
/// goes to a temporary file beside the target, is flushed to disk, and is renamed over the target. The one way every
/// project writes checkpoints, exported models, reports and plots.
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="text"/> (UTF-8, no BOM) to <paramref name="path"/> atomically.</summary>
    public static void WriteAllText(string path, string text) =>
        Write(path, stream =>
        {
            using var writer = new StreamWriter(stream, leaveOpen: true);
            writer.Write(text);
        });

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> atomically.</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        var copy = bytes.ToArray();
        Write(path, stream => stream.Write(copy));
    }

    /// <summary>Lets <paramref name="write"/> fill a stream, then puts it in place at <paramref name="path"/>.</summary>
    public static void Write(string path, Action<Stream> write) =>
        WriteVia(path, tmp =>
        {
            using var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write);
            write(stream);
            stream.Flush(flushToDisk: true);
        });

    /// <summary>
    /// For libraries that only write to a path (a plot's <c>SavePng</c>): <paramref name="writeFile"/> writes the
    /// temporary path it is given, which keeps the target's extension, and the file is renamed into place.
    /// The folder of <paramref name="path"/> is created if needed; a failed write leaves no temporary file behind.
    /// </summary>
    public static void WriteVia(string path, Action<string> writeFile)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        RemoveLeftovers(full);
        var tmp = $"{full}.tmp-{Environment.ProcessId}-{Environment.CurrentManagedThreadId}{Path.GetExtension(full)}";
        try
        {
            writeFile(tmp);
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    /// <summary>
    /// Deletes the temporary files a killed writer of <paramref name="full"/> left (kill -9 runs no <c>finally</c>): those
    /// whose process is gone. A live writer's file is left alone.
    /// </summary>
    static void RemoveLeftovers(string full)
    {
        var prefix = Path.GetFileName(full) + ".tmp-";
        foreach (var leftover in Directory.EnumerateFiles(Path.GetDirectoryName(full)!, prefix + "*"))
        {
            var pid = Path.GetFileName(leftover)[prefix.Length..].Split('-')[0];
            if (int.TryParse(pid, out int id) && id != Environment.ProcessId && !IsRunning(id))
                try { File.Delete(leftover); }
                catch (IOException) { }   // another writer removed it first
        }
    }

    static bool IsRunning(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException) { return false; }
    }
}
