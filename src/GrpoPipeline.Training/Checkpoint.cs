using GrpoPipeline.Training.Policies;
using System.Security.Cryptography;
using System.Text.Json;
using GrpoPipeline.Core;
using static TorchSharp.torch;

namespace GrpoPipeline.Training;

/// <summary>A checkpoint is missing, corrupt or does not fit the run.</summary>
/// <param name="message">What is wrong, naming the checkpoint.</param>
/// <param name="inner">The underlying failure, if any.</param>
/// <param name="corrupt">The files on disk are damaged or incomplete (a hash mismatch, a missing or unreadable file):
/// an older checkpoint may stand in for it.</param>
public sealed class CheckpointException(string message, Exception? inner = null, bool corrupt = false) : Exception(message, inner)
{
    /// <summary>The files on disk are damaged or incomplete, as opposed to well-formed but unusable here.</summary>
    public bool Corrupt { get; } = corrupt;
}

/// <summary>
/// The JSON sidecar of a checkpoint (<c>checkpoint.json</c>): enough to rebuild the policy with no other input,
/// the full config, both generators' states, and a SHA-256 of every weight file so corruption is detected.
/// </summary>
public sealed record CheckpointManifest
{
    /// <summary>
    /// The manifest's format (<see cref="Checkpoint.FormatVersion"/> when written);
    /// <see cref="Checkpoint.ReadManifest"/> rejects any other when it verifies.
    /// </summary>
    public int FormatVersion { get; init; }
    /// <summary>Completed epochs when the checkpoint was written.</summary>
    public int Epoch { get; init; }
    /// <summary>
    /// The policy's options and shape: enough to build it (and its reference and behaviour copies) before loading.
    /// </summary>
    public required PolicyShape Shape { get; init; }
    /// <summary>
    /// The run's full config; a resume continues with this one, not with the run directory's config.json.
    /// </summary>
    public required TrainConfig Config { get; init; }
    /// <summary>
    /// The prompt sampler's (<see cref="Rng"/>) state; with overlapped rollouts, the one the pending draw began with.
    /// </summary>
    public required ulong[] PromptSamplerState { get; init; }
    /// <summary>
    /// The response generator's state bytes (torch <c>Generator.get_state()</c>), base64; with overlapped rollouts, the
    /// ones the pending draw began with.
    /// </summary>
    public required string ResponseGeneratorState { get; init; }
    /// <summary>
    /// Lower-case hex SHA-256 of every other file of the checkpoint, by file name
    /// (<see cref="Checkpoint.PolicyFile"/>, …); the manifest is not listed.
    /// </summary>
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
    /// <summary>Held-out exact match measured at this checkpoint's epoch, if it was; retention keeps the best one.</summary>
    public double? HeldOutExact { get; init; }
}

/// <summary>Saves and restores <see cref="TrainingState"/> as <c>checkpoints/epoch-NNNNNN/</c>.</summary>
public static class Checkpoint
{
    /// <summary>The manifest format this build writes and reads.</summary>
    public const int FormatVersion = 1;
    /// <summary>
    /// The manifest (<see cref="CheckpointManifest"/>), written last: a folder without one is no checkpoint.
    /// </summary>
    public const string ManifestFile = "checkpoint.json";
    /// <summary>The policy's weights.</summary>
    public const string PolicyFile = "policy.bin";
    /// <summary>The frozen reference π_ref's weights, when the run has one (grpo.klCoef &gt; 0).</summary>
    public const string ReferenceFile = "reference.bin";
    /// <summary>The optimizer's state (<see cref="RootedAdam"/>, in Adam's format).</summary>
    public const string OptimizerFile = "optimizer.bin";
    /// <summary>
    /// Overlapped rollouts (grpo.overlap): the frozen weights the pending draw samples with
    /// (<see cref="OverlapState.Weights"/>).
    /// </summary>
    public const string BehaviourFile = "behaviour.bin";

    /// <summary>
    /// Writes the checkpoint into a temporary folder, then renames it into place and moves the <c>latest</c> pointer.
    /// A crash at any point leaves the previous checkpoint as the latest valid one.
    /// </summary>
    /// <remarks>
    /// A write that fails (a full disk, a lost permission) removes the partial folder at once and throws
    /// <see cref="RunStorageException"/> naming the checkpoint and the reason; the previous checkpoint stays the latest.
    /// </remarks>
    public static string Save(TrainingState state, RunDirectory run, double? heldOutExact = null)
    {
        var name = RunDirectory.CheckpointName(state.Epoch);
        var tmp = Path.Combine(run.CheckpointsDir, $".{name}.tmp-{Environment.ProcessId}");
        try { return Write(state, run, name, tmp, heldOutExact); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true); }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException) { }   // resume removes it
            var latest = run.LatestCheckpoint() is { } l ? $"{Path.GetFileName(l)} is still the latest" : "there is no earlier checkpoint";
            throw new RunStorageException($"could not write checkpoint {name} in '{run.CheckpointsDir}': {e.Message} " +
                                          $"(the partial checkpoint was removed; {latest})", e);
        }
    }

    static string Write(TrainingState state, RunDirectory run, string name, string tmp, double? heldOutExact)
    {
        Directory.CreateDirectory(run.CheckpointsDir);
        var final = Path.Combine(run.CheckpointsDir, name);
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
            HeldOutExact = heldOutExact is { } h && double.IsFinite(h) ? h : null,   // NaN without held-out prompts
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

    /// <summary>
    /// Reads a checkpoint's manifest and, with <paramref name="verify"/>, checks every file against its SHA-256. Throws
    /// <see cref="CheckpointException"/> with the reason.
    /// </summary>
    public static CheckpointManifest ReadManifest(string checkpointDir, bool verify = true)
    {
        if (!Directory.Exists(checkpointDir))
            throw new CheckpointException($"checkpoint '{checkpointDir}' does not exist", corrupt: true);
        var path = Path.Combine(checkpointDir, ManifestFile);
        if (!File.Exists(path))
            throw new CheckpointException($"checkpoint '{checkpointDir}' is incomplete: {ManifestFile} is missing", corrupt: true);
        CheckpointManifest? manifest;
        // A checkpoint written before 0.3 holds its config with the flat stability keys.
        try { manifest = JsonSerializer.Deserialize<CheckpointManifest>(FlatStabilityKeys.Nest(File.ReadAllText(path), "config"), TrainConfig.Json); }
        catch (Exception e) when (e is JsonException or ConfigException)
        {
            throw new CheckpointException($"checkpoint '{checkpointDir}' is corrupt: {ManifestFile} cannot be read ({e.Message})", e, corrupt: true);
        }
        if (manifest is null) throw new CheckpointException($"checkpoint '{checkpointDir}' is corrupt: {ManifestFile} is empty", corrupt: true);
        if (!verify) return manifest;
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
                throw new CheckpointException($"checkpoint '{checkpointDir}' is incomplete: {file} is missing", corrupt: true);
            var actual = HashFile(full);
            if (actual != expected)
                throw new CheckpointException($"checkpoint '{checkpointDir}' is corrupt: {file} has SHA-256 {actual[..12]}…, expected {expected[..12]}…", corrupt: true);
        }
        return manifest;
    }

    /// <summary>
    /// Loads the checkpoint of <paramref name="runOrCheckpointDir"/> (a run directory's latest, or a checkpoint folder),
    /// lets <paramref name="use"/> read its state (disposed after), and returns its manifest: what an export reports.
    /// </summary>
    public static CheckpointManifest Use(string runOrCheckpointDir, Action<TrainingState> use)
    {
        var checkpointDir = Resolve(runOrCheckpointDir);
        var manifest = ReadManifest(checkpointDir, verify: false);   // Load checks every file against it
        using var state = Load(checkpointDir);
        use(state);
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
            state.EntropyCoef = manifest.EntropyCoef ?? manifest.Config.Grpo.InitialEntropyCoef;
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

    /// <summary>
    /// The newest checkpoint of <paramref name="run"/> that verifies. A corrupt one (truncated, bit-flipped, incomplete)
    /// is renamed <c>epoch-NNNNNN.corrupt</c>, kept for inspection and never overwritten, <paramref name="warn"/> is told
    /// why, and the next older one is tried; <c>latest</c> then names the one returned.
    /// </summary>
    public static (string Dir, CheckpointManifest Manifest) NewestGood(RunDirectory run, Action<string> warn)
    {
        var latest = run.RequireLatestCheckpoint();
        var candidates = run.Checkpoints().OrderDescending(StringComparer.Ordinal).Where(c => string.CompareOrdinal(Path.GetFileName(c), Path.GetFileName(latest)) <= 0)
            .Prepend(latest).Distinct().ToList();
        var failures = new List<string>();
        foreach (var dir in candidates)
        {
            try
            {
                var manifest = ReadManifest(dir);
                if (dir != latest) run.SetLatest(Path.GetFileName(dir));
                return (dir, manifest);
            }
            catch (CheckpointException e) when (e.Corrupt)
            {
                failures.Add(e.Message);
                if (!Directory.Exists(dir)) continue;
                var quarantine = dir + ".corrupt";
                for (int n = 2; Directory.Exists(quarantine); n++) quarantine = $"{dir}.corrupt-{n}";
                Directory.Move(dir, quarantine);
                warn($"{e.Message}; moved it to {Path.GetFileName(quarantine)} and trying the checkpoint before it");
            }
        }
        throw new CheckpointException($"cannot resume: no checkpoint of '{run.Root}' is intact ({string.Join("; ", failures)})");
    }

    /// <summary>
    /// Deletes the checkpoints beyond the newest <paramref name="keep"/>, except the one with the best held-out exact
    /// match (the newest of equals) and the latest; 0 keeps all.
    /// </summary>
    public static void Prune(RunDirectory run, int keep)
    {
        if (keep == 0) return;
        var all = run.Checkpoints().OrderDescending(StringComparer.Ordinal).ToList();
        if (all.Count <= keep) return;
        var best = all.Select(dir => (Dir: dir, Exact: TryHeldOut(dir))).Where(c => c.Exact is not null)
            .OrderByDescending(c => c.Exact).Select(c => c.Dir).FirstOrDefault();
        var latest = run.LatestCheckpoint();
        foreach (var dir in all.Skip(keep))
            if (dir != best && dir != latest) Directory.Delete(dir, recursive: true);
    }

    static double? TryHeldOut(string dir)
    {
        try { return ReadManifest(dir, verify: false).HeldOutExact; }
        catch (CheckpointException) { return null; }
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
