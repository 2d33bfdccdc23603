namespace GrpoPipeline.Core;

/// <summary>A configuration value is invalid. The message names the key, the bad value and what is allowed.</summary>
public sealed class ConfigException(string key, string message) : Exception(message)
{
    /// <summary>The configuration key, as it is spelled in JSON (e.g. <c>grpo.groupSize</c>).</summary>
    public string Key { get; } = key;

    /// <summary>An exception for <paramref name="key"/> = <paramref name="value"/>, which should be <paramref name="allowed"/>.</summary>
    public static ConfigException Invalid(string key, object? value, string allowed) =>
        new(key, $"config '{key}' = {Format(value)} is invalid: allowed {allowed}");

    /// <summary>Throws unless <paramref name="ok"/> holds.</summary>
    public static void Require(bool ok, string key, object? value, string allowed)
    {
        if (!ok) throw Invalid(key, value, allowed);
    }

    static string Format(object? value) => value switch
    {
        null => "null",
        string s => $"\"{s}\"",
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "?",
    };
}
