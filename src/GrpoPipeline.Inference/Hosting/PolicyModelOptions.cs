using GrpoPipeline.Core;
using Microsoft.Extensions.Options;

namespace GrpoPipeline.Inference.Hosting;

/// <summary>
/// Which model a host serves and how it reloads it, bound from the <c>Policy</c> configuration section by
/// <c>AddGrpoApi</c> or set in code with <see cref="Microsoft.Extensions.DependencyInjection.PolicyServiceCollectionExtensions.AddGrpoPolicy"/>.
/// Validated when the host starts: a bad value stops it with a message naming the key.
/// </summary>
public sealed class PolicyModelOptions
{
    /// <summary>Configuration section the options are bound from.</summary>
    public const string Section = "Policy";

    /// <summary>Path of the exported ONNX policy; relative paths resolve against the working directory. Required.</summary>
    public string ModelPath { get; set; } = "";
    /// <summary>ONNX Runtime threads one inference may use. Default 1: callers already run in parallel.</summary>
    public int IntraOpThreads { get; set; } = 1;
    /// <summary>Reload the model when its file is replaced. Default true.</summary>
    public bool HotReload { get; set; } = true;
    /// <summary>Interval of the last-write-time/size poll that backs up the file watcher; 0 turns it off. Default 1000.</summary>
    public int ReloadPollMilliseconds { get; set; } = 1000;
    /// <summary>Quiet time after the last file event before a reload, so a file being written is read once. Default 200.</summary>
    public int ReloadDebounceMilliseconds { get; set; } = 200;

    /// <summary>How concurrent calls are gathered into batched inferences (<c>Policy:Batching:…</c>); on by default.</summary>
    public BatchingOptions Batching { get; set; } = new();

    /// <summary>Absolute path of <see cref="ModelPath"/>.</summary>
    public string FullModelPath => Path.GetFullPath(ModelPath);

    /// <summary>Throws <see cref="ConfigException"/> naming the first bad key, its value and what is allowed.</summary>
    public void Validate()
    {
        ConfigException.Require(!string.IsNullOrWhiteSpace(ModelPath), Key(nameof(ModelPath)), ModelPath,
            "the path of an exported .onnx policy (appsettings.json, --Policy:ModelPath=<file>, or grpo serve --model <file>)");
        ConfigException.Require(File.Exists(ModelPath), Key(nameof(ModelPath)), ModelPath, $"an existing file; there is no file at '{FullModelPath}'");
        ConfigException.Require(IntraOpThreads is >= 1 and <= 256, Key(nameof(IntraOpThreads)), IntraOpThreads, "1..256");
        ConfigException.Require(ReloadPollMilliseconds is 0 or (>= 10 and <= 3_600_000), Key(nameof(ReloadPollMilliseconds)), ReloadPollMilliseconds, "0 (off) or 10..3600000");
        ConfigException.Require(ReloadDebounceMilliseconds is >= 0 and <= 60_000, Key(nameof(ReloadDebounceMilliseconds)), ReloadDebounceMilliseconds, "0..60000");
        Batching.Validate();
    }

    /// <summary>The configuration key of <paramref name="property"/>, e.g. <c>Policy:ModelPath</c>.</summary>
    public static string Key(string property) => $"{Section}:{property}";
}

/// <summary>
/// Runs an options type's <c>Validate()</c> (which throws <see cref="ConfigException"/>) when the host starts, so a bad
/// setting stops it with a message naming the key.
/// </summary>
public sealed class OptionsValidator<TOptions>(Action<TOptions> validate) : IValidateOptions<TOptions> where TOptions : class
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        try
        {
            validate(options);
            return ValidateOptionsResult.Success;
        }
        catch (ConfigException e)
        {
            return ValidateOptionsResult.Fail(e.Message);
        }
    }
}
