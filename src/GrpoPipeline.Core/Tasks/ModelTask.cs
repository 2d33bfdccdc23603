using System.Text.Json;

namespace GrpoPipeline.Core;

/// <summary>
/// The task an exported model carries in its metadata: its name (<see cref="OnnxContract.Metadata.Task"/>) and the
/// options it was trained with (<see cref="OnnxContract.Metadata.TaskOptions"/>). Inference rebuilds a registered task
/// from them for the prompt rules and the rewards, and the evaluation for the held-out split.
/// </summary>
public static class ModelTask
{
    /// <summary>The model's task name; <c>sort</c> for models exported before the key existed.</summary>
    public static string Name(IReadOnlyDictionary<string, string> metadata) =>
        metadata.GetValueOrDefault(OnnxContract.Metadata.Task, SortTask.TaskName);

    /// <summary>
    /// The model's task options (from <see cref="OnnxContract.Metadata.TaskOptions"/>, or where models before 0.3 kept
    /// them, <see cref="OnnxContract.Metadata.HeldOutSplit"/>), validated; null when the model has neither key.
    /// </summary>
    /// <param name="metadata">The model's metadata_props.</param>
    /// <param name="source">The model, for messages.</param>
    /// <exception cref="InvalidDataException">The JSON does not parse as <see cref="TaskOptions"/> or holds an invalid value; the message names the key.</exception>
    public static TaskOptions? Options(IReadOnlyDictionary<string, string> metadata, string source)
    {
        var key = metadata.ContainsKey(OnnxContract.Metadata.TaskOptions) ? OnnxContract.Metadata.TaskOptions : OnnxContract.Metadata.HeldOutSplit;
        if (!metadata.TryGetValue(key, out var json)) return null;
        TaskOptions? options;
        try { options = JsonSerializer.Deserialize<TaskOptions>(json, ConfigJson.Options); }
        catch (JsonException e)
        {
            var at = ConfigJson.KeyOf(e) is "$" ? "" : $" at '{ConfigJson.KeyOf(e)}'";
            throw new InvalidDataException($"'{source}': metadata '{key}' is not valid task options{at}: {ConfigJson.Describe(e)}", e);
        }
        if (options is null) throw new InvalidDataException($"'{source}': metadata '{key}' is null");
        // Models before 0.3 stored no name in their options; the task key says which task they are (and the options'
        // rules depend on it, so it is set before they are checked).
        options = options with { Name = Name(metadata) };
        try { options.Validate(); }
        catch (ConfigException e) { throw new InvalidDataException($"'{source}': metadata '{key}' holds invalid task options: {e.Message}", e); }
        return options;
    }
}
