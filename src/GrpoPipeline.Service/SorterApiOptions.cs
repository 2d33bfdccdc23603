using GrpoPipeline.Core;
using Microsoft.Extensions.Options;

namespace GrpoPipeline.Service;

/// <summary>The service's settings, bound from the <c>Sorter</c> section of configuration.</summary>
public sealed record ServiceOptions
{
    /// <summary>Configuration section the options are bound from.</summary>
    public const string Section = "Sorter";

    /// <summary>Path of the ONNX sorter to serve; relative paths resolve against the working directory. Required.</summary>
    public string ModelPath { get; init; } = "";
    /// <summary>Most prompts one <c>/v1/sort/batch</c> request may carry. Default 1024.</summary>
    public int MaxBatch { get; init; } = 1024;
    /// <summary>ONNX Runtime threads one inference may use. Default 1: requests already run in parallel.</summary>
    public int IntraOpThreads { get; init; } = 1;
    /// <summary>Largest request body accepted, in bytes; larger bodies get a 400. Default 1 MiB.</summary>
    public long MaxRequestBodyBytes { get; init; } = 1 << 20;
    /// <summary>Reload the model when its file is replaced. Default true.</summary>
    public bool HotReload { get; init; } = true;
    /// <summary>Interval of the last-write-time/size poll that backs up the file watcher; 0 turns it off. Default 1000.</summary>
    public int ReloadPollMilliseconds { get; init; } = 1000;
    /// <summary>Quiet time after the last file event before a reload, so a file being written is read once. Default 200.</summary>
    public int ReloadDebounceMilliseconds { get; init; } = 200;

    /// <summary>Absolute path of <see cref="ModelPath"/>.</summary>
    public string FullModelPath => Path.GetFullPath(ModelPath);

    /// <summary>Throws <see cref="ConfigException"/> naming the first bad key, its value and what is allowed.</summary>
    public void Validate()
    {
        ConfigException.Require(!string.IsNullOrWhiteSpace(ModelPath), Key(nameof(ModelPath)), ModelPath,
            "the path of an exported .onnx sorter (appsettings.json, --Sorter:ModelPath=<file>, or grpo serve --model <file>)");
        ConfigException.Require(File.Exists(ModelPath), Key(nameof(ModelPath)), ModelPath, $"an existing file; there is no file at '{FullModelPath}'");
        ConfigException.Require(MaxBatch is >= 1 and <= 65536, Key(nameof(MaxBatch)), MaxBatch, "1..65536");
        ConfigException.Require(IntraOpThreads is >= 1 and <= 256, Key(nameof(IntraOpThreads)), IntraOpThreads, "1..256");
        ConfigException.Require(MaxRequestBodyBytes is >= 1024 and <= 1L << 30, Key(nameof(MaxRequestBodyBytes)), MaxRequestBodyBytes, "1024..1073741824");
        ConfigException.Require(ReloadPollMilliseconds is 0 or (>= 10 and <= 3_600_000), Key(nameof(ReloadPollMilliseconds)), ReloadPollMilliseconds, "0 (off) or 10..3600000");
        ConfigException.Require(ReloadDebounceMilliseconds is >= 0 and <= 60_000, Key(nameof(ReloadDebounceMilliseconds)), ReloadDebounceMilliseconds, "0..60000");
    }

    static string Key(string property) => $"{Section}:{property}";
}

/// <summary>Runs <see cref="ServiceOptions.Validate"/> when the host starts, so a bad setting stops it with a clear message.</summary>
sealed class ServiceOptionsValidator : IValidateOptions<ServiceOptions>
{
    public ValidateOptionsResult Validate(string? name, ServiceOptions options)
    {
        try
        {
            options.Validate();
            return ValidateOptionsResult.Success;
        }
        catch (ConfigException e)
        {
            return ValidateOptionsResult.Fail(e.Message);
        }
    }
}
