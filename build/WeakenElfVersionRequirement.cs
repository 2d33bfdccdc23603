// MSBuild inline task (RoslynCodeTaskFactory): marks one version requirement of an ELF shared library WEAK.
// Used for TorchSharp's libLibTorchSharp.so, see TorchSharpNativeFix.targets for why this is safe.
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public sealed class WeakenElfVersionRequirement : Task
{
    const uint ShtGnuVerneed = 0x6ffffffe;   // SHT_GNU_verneed (elf.h)
    const ushort VerFlgWeak = 0x2;           // VER_FLG_WEAK (elf.h)

    static readonly string[] LibStdCxxCandidates =
    {
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib/aarch64-linux-gnu/libstdc++.so.6", "/lib/aarch64-linux-gnu/libstdc++.so.6",
        "/usr/lib64/libstdc++.so.6", "/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
    };

    [Required] public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();
    [Required] public string VersionName { get; set; } = "";

    public override bool Execute()
    {
        var systemLib = Array.Find(LibStdCxxCandidates, File.Exists);
        if (systemLib != null && Contains(File.ReadAllBytes(systemLib), Encoding.ASCII.GetBytes(VersionName + "\0")))
        {
            Log.LogMessage(MessageImportance.High,
                $"TorchSharp native fix: {systemLib} provides {VersionName}; {Files.Length} library copy(ies) left unchanged.");
            return true;
        }

        int patched = 0, already = 0;
        var dirs = new List<string>();
        foreach (var item in Files)
        {
            var path = item.GetMetadata("FullPath");
            try
            {
                switch (Weaken(path))
                {
                    case Outcome.Patched: patched++; break;
                    case Outcome.AlreadyWeak: already++; break;
                    case Outcome.NotRequired: break;
                }
                dirs.Add(Path.GetDirectoryName(path) ?? path);
            }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                Log.LogError($"TorchSharp native fix: cannot patch {path}: {e.Message}");
                return false;
            }
        }
        Log.LogMessage(MessageImportance.High,
            $"TorchSharp native fix: {VersionName} marked weak in {patched} copy(ies), {already} already weak " +
            $"(system libstdc++ lacks it) under {string.Join(", ", dirs)}");
        return true;
    }

    enum Outcome { Patched, AlreadyWeak, NotRequired }

    Outcome Weaken(string path)
    {
        var elf = File.ReadAllBytes(path);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException("only 64-bit little-endian ELF is supported");

        // ELF64 header and section headers (System V gABI).
        long shoff = (long)BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A), shnum = BitConverter.ToUInt16(elf, 0x3C);
        for (int s = 0; s < shnum; s++)
        {
            long sh = shoff + (long)s * shentsize;
            if (BitConverter.ToUInt32(elf, (int)sh + 4) != ShtGnuVerneed) continue;
            long offset = (long)BitConverter.ToUInt64(elf, (int)sh + 0x18);
            int link = (int)BitConverter.ToUInt32(elf, (int)sh + 0x28), count = (int)BitConverter.ToUInt32(elf, (int)sh + 0x2C);
            long strtab = (long)BitConverter.ToUInt64(elf, (int)(shoff + (long)link * shentsize) + 0x18);
            return WeakenInVerneed(path, elf, offset, count, strtab);
        }
        return Outcome.NotRequired;
    }

    Outcome WeakenInVerneed(string path, byte[] elf, long verneed, int count, long strtab)
    {
        // Elf64_Verneed {vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32}
        // Elf64_Vernaux {vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32}
        long need = verneed;
        for (int n = 0; n < count; n++)
        {
            int auxCount = BitConverter.ToUInt16(elf, (int)need + 2);
            long aux = need + BitConverter.ToUInt32(elf, (int)need + 8);
            for (int a = 0; a < auxCount; a++)
            {
                if (ReadCString(elf, strtab + BitConverter.ToUInt32(elf, (int)aux + 8)) == VersionName)
                {
                    ushort flags = BitConverter.ToUInt16(elf, (int)aux + 4);
                    if ((flags & VerFlgWeak) != 0) return Outcome.AlreadyWeak;
                    BitConverter.GetBytes((ushort)(flags | VerFlgWeak)).CopyTo(elf, (int)aux + 4);
                    WriteReplacing(path, elf);
                    return Outcome.Patched;
                }
                aux += BitConverter.ToUInt32(elf, (int)aux + 12);
            }
            need += BitConverter.ToUInt32(elf, (int)need + 12);
        }
        return Outcome.NotRequired;
    }

    // Write a new file and rename it over the old one: the output copy may be a hard link into the NuGet cache,
    // which must never change. The timestamp is kept so incremental builds don't copy the library again.
    static void WriteReplacing(string path, byte[] bytes)
    {
        var stamp = File.GetLastWriteTimeUtc(path);
        var tmp = path + ".weaken.tmp";
        File.WriteAllBytes(tmp, bytes);
        File.SetLastWriteTimeUtc(tmp, stamp);
        File.Delete(path);   // unlinks this copy only; a hard-linked original keeps its bytes
        File.Move(tmp, path);
    }

    static string ReadCString(byte[] bytes, long start)
    {
        long end = start;
        while (end < bytes.Length && bytes[end] != 0) end++;
        return Encoding.ASCII.GetString(bytes, (int)start, (int)(end - start));
    }

    // The task compiles against netstandard2.0 (no Span search), so a plain scan.
    static bool Contains(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && haystack[i + j] == needle[j]) j++;
            if (j == needle.Length) return true;
        }
        return false;
    }
}
