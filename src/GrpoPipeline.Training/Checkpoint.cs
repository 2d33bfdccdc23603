using System.Security.Cryptography;
using System.Text.Json;
using GrpoPipeline.Core;
using static TorchSharp.torch;

namespace GrpoPipeline.Training;

/// <summary>A checkpoint is missing, corrupt or does not fit the run.</summary>
public sealed class CheckpointException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The JSON sidecar of a checkpoint (<c>checkpoint.json</c>): enough to rebuild the policy with no other input,
/// the full config, both generators' states, and a SHA-256 of every weight file so corruption is detected.
/// </summary>
public sealed record CheckpointManifest
{
    public int FormatVersion { get; init; }
    public int Epoch { get; init; }
    public required PolicyShape Shape { get; init; }
    public required TrainConfig Config { get; init; }
    public required ulong[] PromptSamplerState { get; init; }
    public required string ResponseGeneratorState { get; init; }
    public required Dictionary<string, string> Sha256 { get; init; }
    /// <summary>The entropy bonus's coefficient for the next epoch (the controller's state). Absent in older checkpoints.</summary>
    public double? EntropyCoef { get; init; }
    /// <summary>The curriculum level of the next epoch. Absent in older checkpoints.</summary>
    public int? CurriculumLevel { get; init; }
    /// <summary>
    /// Overlapped rollouts: the curriculum level of the next epoch's rollout, drawn with <c>behaviour.bin</c> and the
    /// generator states above (which are the ones that draw begins with).
    /// </summary>
    public int? OverlapLevel { get; init; }
}

/// <summary>Saves and restores <see cref="TrainingState"/> as <c>checkpoints/epoch-NNNNNN/</c>.</summary>
public static class Checkpoint
{
    public const int FormatVersion = 1;
    public const string ManifestFile = "checkpoint.json";
    public const string PolicyFile = "policy.bin";
    public const string ReferenceFile = "reference.bin";
    public const string OptimizerFile = "optimizer.bin";
    public const string BehaviourFile = "behaviour.bin";

    /// <summary>
    /// Writes the checkpoint into a temporary folder, then renames it into place and moves the <c>latest</c> pointer.
    /// A crash at any point leaves the previous checkpoint as the latest valid one.
    /// </summary>
    public static string Save(TrainingState state, RunDirectory run)
    {
        Directory.CreateDirectory(run.CheckpointsDir);
        var name = RunDirectory.CheckpointName(state.Epoch);
        var final = Path.Combine(run.CheckpointsDir, name);
        var tmp = Path.Combine(run.CheckpointsDir, $".{name}.tmp-{Environment.ProcessId}");
        if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        Directory.CreateDirectory(tmp);

        state.Policy.save(Path.Combine(tmp, PolicyFile));
        state.Reference?.save(Path.Combine(tmp, ReferenceFile));
        state.Optimizer.save_state_dict(Path.Combine(tmp, OptimizerFile));
        // With overlapped rollouts the sampler may be drawing right now: save the state its draw began with instead.
        var overlap = state.Overlap;
        overlap?.Weights.save(Path.Combine(tmp, BehaviourFile));
        var manifest = new CheckpointManifest
        {
            FormatVersion = FormatVersion,
            Epoch = state.Epoch,
            Shape = state.Shape,
            Config = state.Config,
            PromptSamplerState = overlap?.PromptSamplerState ?? state.PromptSampler.State,
            ResponseGeneratorState = Convert.ToBase64String(overlap?.GeneratorState ?? TrainingState.GeneratorState(state.ResponseGenerator)),
            Sha256 = Directory.GetFiles(tmp).ToDictionary(f => Path.GetFileName(f), HashFile),
            EntropyCoef = state.EntropyCoef,
            CurriculumLevel = state.CurriculumLevel,
            OverlapLevel = overlap?.Level,
        };
        // The manifest goes last: a folder without one is never mistaken for a checkpoint.
        AtomicFile.WriteAllText(Path.Combine(tmp, ManifestFile), JsonSerializer.Serialize(manifest, TrainConfig.Json));

        // Re-saving an epoch (e.g. a stop right after a scheduled checkpoint): move the old folder aside first, so
        // `latest` never names a half-written folder; it is missing only between two renames.
        string? old = null;
        if (Directory.Exists(final))
        {
            old = Path.Combine(run.CheckpointsDir, $".{name}.old-{Environment.ProcessId}");
            if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
            Directory.Move(final, old);
        }
        Directory.Move(tmp, final);
        run.SetLatest(name);
        if (old is not null) Directory.Delete(old, recursive: true);
        return final;
    }

    /// <summary>Reads and verifies a checkpoint's manifest. Throws <see cref="CheckpointException"/> with the reason.</summary>
    public static CheckpointManifest ReadManifest(string checkpointDir)
    {
        if (!Directory.Exists(checkpointDir))
            throw new CheckpointException($"checkpoint '{checkpointDir}' does not exist");
        var path = Path.Combine(checkpointDir, ManifestFile);
        if (!File.Exists(path))
            throw new CheckpointException($"checkpoint '{checkpointDir}' is incomplete: {ManifestFile} is missing");
        CheckpointManifest? manifest;
        try { manifest = JsonSerializer.Deserialize<CheckpointManifest>(File.ReadAllText(path), TrainConfig.Json); }
        catch (Exception e) when (e is JsonException or ConfigException)
        {
            throw new CheckpointException($"checkpoint '{checkpointDir}' is corrupt: {ManifestFile} cannot be read ({e.Message})", e);
        }
        if (manifest is null) throw new CheckpointException($"checkpoint '{checkpointDir}' is corrupt: {ManifestFile} is empty");
        if (manifest.FormatVersion != FormatVersion)
            throw new CheckpointException($"checkpoint '{checkpointDir}' has format {manifest.FormatVersion}; this build reads format {FormatVersion}");
        try { manifest.Config.Validate(); }
        catch (ConfigException e) { throw new CheckpointException($"checkpoint '{checkpointDir}' holds an invalid config: {e.Message}", e); }
        foreach (var required in new[] { PolicyFile, OptimizerFile })
            if (!manifest.Sha256.ContainsKey(required))
                throw new CheckpointException($"checkpoint '{checkpointDir}' is corrupt: {ManifestFile} lists no {required}");
        foreach (var (file, expected) in manifest.Sha256)
        {
            var full = Path.Combine(checkpointDir, file);
            if (!File.Exists(full))
                throw new CheckpointException($"checkpoint '{checkpointDir}' is incomplete: {file} is missing");
            var actual = HashFile(full);
            if (actual != expected)
                throw new CheckpointException($"checkpoint '{checkpointDir}' is corrupt: {file} has SHA-256 {actual[..12]}…, expected {expected[..12]}…");
        }
        return manifest;
    }

    /// <summary>Rebuilds the full training state from a checkpoint folder.</summary>
    public static TrainingState Load(string checkpointDir)
    {
        var manifest = ReadManifest(checkpointDir);
        TrainingState state;
        try { state = TrainingState.CreateForRestore(manifest.Config, manifest.Shape); }
        catch (Exception e) { throw new CheckpointException($"checkpoint '{checkpointDir}' describes a policy that cannot be built ({manifest.Shape}): {e.Message}", e); }
        try
        {
            state.Policy.load(Path.Combine(checkpointDir, PolicyFile));
            if (manifest.Config.Grpo.KlCoef > 0)
            {
                if (!manifest.Sha256.ContainsKey(ReferenceFile))
                    throw new CheckpointException($"checkpoint '{checkpointDir}' has no {ReferenceFile} but its config has a KL penalty");
                var reference = PolicyFactory.Create(manifest.Shape);
                reference.load(Path.Combine(checkpointDir, ReferenceFile));
                foreach (var p in reference.parameters()) p.requires_grad = false;
                reference.eval();
                state.SetReference(reference);
            }
            state.Optimizer.load_state_dict(Path.Combine(checkpointDir, OptimizerFile));
            state.PromptSampler.State = manifest.PromptSamplerState;
            using var generatorState = tensor(Convert.FromBase64String(manifest.ResponseGeneratorState));
            state.ResponseGenerator.set_state(generatorState);
            state.Epoch = manifest.Epoch;
            state.EntropyCoef = manifest.EntropyCoef ?? manifest.Config.Grpo.EntropyCoef;
            state.CurriculumLevel = manifest.CurriculumLevel ?? state.CurriculumLevel;
            if (state.Overlap is { } overlap)
            {
                if (!manifest.Sha256.ContainsKey(BehaviourFile) || manifest.OverlapLevel is null)
                    throw new CheckpointException($"checkpoint '{checkpointDir}' has no {BehaviourFile} but its config overlaps rollouts");
                overlap.Weights.load(Path.Combine(checkpointDir, BehaviourFile));
                overlap.PromptSamplerState = manifest.PromptSamplerState;
                overlap.GeneratorState = Convert.FromBase64String(manifest.ResponseGeneratorState);
                overlap.Level = manifest.OverlapLevel.Value;
            }
            return state;
        }
        catch (Exception e) when (e is not CheckpointException)
        {
            state.Dispose();
            throw new CheckpointException($"checkpoint '{checkpointDir}' does not fit its policy {manifest.Shape}: {e.Message}", e);
        }
    }

    /// <summary>Resolves a run directory (via its <c>latest</c> pointer) or a checkpoint folder to a checkpoint folder.</summary>
    public static string Resolve(string runOrCheckpointDir)
    {
        if (File.Exists(Path.Combine(runOrCheckpointDir, ManifestFile))) return runOrCheckpointDir;
        var run = new RunDirectory(runOrCheckpointDir);
        return run.LatestCheckpoint()
            ?? throw new CheckpointException($"'{runOrCheckpointDir}' is neither a checkpoint nor a run directory with a checkpoint (no {run.LatestPointerPath})");
    }

    static string HashFile(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
