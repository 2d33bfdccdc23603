using System.Text.Json.Nodes;
using GrpoPipeline.Core;
using Microsoft.ML.OnnxRuntime;
using NUnit.Framework;

namespace GrpoPipeline.Training.Tests;

/// <summary>
/// The stability tools are nested records (<c>grpo.dynamicSampling</c>, <c>grpo.entropy</c>, <c>grpo.overlap</c>; null
/// is off), and the flat keys of 0.2 are still read as them: old configs, result files and exported models load to the
/// config their nested spelling gives. (A checkpoint with flat keys resuming exactly is in <see cref="CheckpointTests"/>.)
/// </summary>
[TestFixture]
public sealed class FlatStabilityKeysTests
{
    /// <summary>A valid random-task config with <paramref name="grpo"/> spliced into its grpo object.</summary>
    static string With(string grpo) =>
        """{"task": {"kind": "random", "promptLength": 4, "vocabSize": 6}, "grpo": {"groupSize": 4""" + (grpo.Trim().Length > 0 ? ", " + grpo : "") + "}}";

    [TestCase("""
        "dynamicSampling": true, "dynamicSamplingMaxBatches": 3, "entropyCoef": 0.002, "entropyTarget": 0.5, "entropyCoefStep": 0.001,
        "entropyCoefMax": 0.2, "overlapRollouts": true, "isTruncation": 1.5
        """, """
        "dynamicSampling": {"maxBatches": 3}, "entropy": {"coef": 0.002, "controller": {"target": 0.5, "step": 0.001, "max": 0.2}},
        "overlap": {"isTruncation": 1.5}
        """, TestName = "Every tool on, nothing at its default")]
    [TestCase("""
        "dynamicSampling": true, "entropyCoef": 0.001, "entropyTarget": 0.15, "overlapRollouts": true
        """, """
        "dynamicSampling": {}, "entropy": {"coef": 0.001, "controller": {"target": 0.15}}, "overlap": {}
        """, TestName = "Every tool on, its other keys at their defaults")]
    [TestCase(""" "entropyCoef": 0.01 """, """ "entropy": {"coef": 0.01} """, TestName = "A fixed entropy bonus")]
    [TestCase(""" "entropyTarget": 0.5 """, """ "entropy": {"coef": 0, "controller": {"target": 0.5}} """,
        TestName = "A target without a coefficient: the controller starts from 0")]
    [TestCase("""
        "dualClip": null, "dynamicSampling": false, "dynamicSamplingMaxBatches": 2, "entropyCoef": 0, "entropyTarget": null,
        "entropyCoefStep": 0.0005, "entropyCoefMax": 0.05, "refMixup": 1, "overlapRollouts": false, "isTruncation": 2
        """, "", TestName = "Every tool off, as 0.2 wrote every config")]
    [TestCase("""
        "dynamicSampling": false, "dynamicSamplingMaxBatches": 7, "entropyCoef": 0, "entropyCoefStep": 0.1, "isTruncation": 5
        """, "", TestName = "Every tool off, with settings that meant nothing")]
    public void Flat_Keys_Give_The_Config_Of_Their_Nested_Spelling(string flat, string nested)
    {
        var fromFlat = TrainConfig.Parse(With(flat));
        var fromNested = TrainConfig.Parse(With(nested));

        Assert.That(fromFlat.Grpo, Is.EqualTo(fromNested.Grpo));
        Assert.That(fromFlat.ToJson(), Is.EqualTo(fromNested.ToJson()));
    }

    [Test]
    public void The_Nested_Keys_Read_As_Written()
    {
        var grpo = TrainConfig.Parse(With("""
            "dynamicSampling": {"maxBatches": 3}, "entropy": {"coef": 0.002, "controller": {"target": 0.5, "step": 0.001, "max": 0.2}},
            "overlap": {"isTruncation": 1.5}
            """)).Grpo;

        Assert.That(grpo.DynamicSampling, Is.EqualTo(new DynamicSamplingOptions { MaxBatches = 3 }));
        Assert.That(grpo.Entropy, Is.EqualTo(new EntropyOptions { Coef = 0.002, Controller = new EntropyControllerOptions { Target = 0.5, Step = 0.001, Max = 0.2 } }));
        Assert.That(grpo.Overlap, Is.EqualTo(new OverlapOptions { IsTruncation = 1.5 }));
        Assert.That(grpo.InitialEntropyCoef, Is.EqualTo(0.002));
        var off = new GrpoOptions();
        Assert.That((off.DynamicSampling, off.Entropy, off.Overlap, off.InitialEntropyCoef), Is.EqualTo(((DynamicSamplingOptions?)null, (EntropyOptions?)null, (OverlapOptions?)null, 0.0)),
            "every tool is off by default");
    }

    [TestCase(""" "entropy": {"coef": 0.01}, "entropyTarget": 0.5 """, "grpo.entropyTarget", "without grpo.entropy")]
    [TestCase(""" "dynamicSampling": {"maxBatches": 3}, "dynamicSamplingMaxBatches": 3 """, "grpo.dynamicSamplingMaxBatches", "without grpo.dynamicSampling")]
    [TestCase(""" "dynamicSampling": null, "dynamicSamplingMaxBatches": 3 """, "grpo.dynamicSamplingMaxBatches", "without grpo.dynamicSampling")]
    [TestCase(""" "overlap": {}, "overlapRollouts": true """, "grpo.overlapRollouts", "without grpo.overlap")]
    [TestCase(""" "overlapRollouts": 1 """, "grpo.overlapRollouts", "true or false")]
    [TestCase(""" "entropyCoef": 0.01, "entropyCoef": 0.02 """, "grpo.entropyCoef", "Duplicate")]
    [TestCase(""" "entropyCoef": 0.01, "innerSteps": 2, "innerSteps": 3 """, "grpo.innerSteps", "Duplicate")]
    [TestCase(""" "entropyCoef": 0.01, "entropyCoeff": 0.02 """, "grpo.entropyCoeff", "could not be mapped")]
    [TestCase(""" "entropyCoef": "0.01" """, "grpo.entropy.coef", "")]
    [TestCase(""" "entropyCoef": 0.1, "entropyTarget": 0.5, "entropyCoefMax": 0.05 """, "grpo.entropy.controller.max", "grpo.entropy.coef (0.1)..10")]
    public void A_Flat_Key_That_Cannot_Be_Read_Is_An_Error_Naming_It(string grpo, string key, string mention)
    {
        var e = Assert.Throws<ConfigException>(() => TrainConfig.Parse(With(grpo)));

        Assert.That(e!.Key, Is.EqualTo(key));
        Assert.That(e.Message, Does.Contain(key).And.Contain(mention));
    }

    [TestCase(""" "dynamicSampling": {"maxBatches": -1} """, "grpo.dynamicSampling.maxBatches", "= -1", "0..100")]
    [TestCase(""" "dynamicSampling": {"maxBatch": 2} """, "grpo.dynamicSampling.maxBatch", "", "could not be mapped")]
    [TestCase(""" "dynamicSampling": 2 """, "grpo.dynamicSampling", "", "")]
    [TestCase(""" "entropy": {"coef": 0} """, "grpo.entropy.coef", "= 0", "> 0 without a controller")]
    [TestCase(""" "entropy": {"coef": 11} """, "grpo.entropy.coef", "= 11", "0..10")]
    [TestCase(""" "entropy": {"controller": {}} """, "grpo.entropy.controller", "", "target")]
    [TestCase(""" "entropy": {"controller": {"target": -1}} """, "grpo.entropy.controller.target", "= -1", "0..100")]
    [TestCase(""" "entropy": {"controller": {"target": 1, "step": 0}} """, "grpo.entropy.controller.step", "= 0", "0 < Δ ≤ 1")]
    [TestCase(""" "entropy": {"coef": 0.1, "controller": {"target": 1, "max": 0.05}} """, "grpo.entropy.controller.max", "= 0.05", "grpo.entropy.coef (0.1)..10")]
    [TestCase(""" "overlap": {"isTruncation": 0.5} """, "grpo.overlap.isTruncation", "= 0.5", "1..1000")]
    public void An_Invalid_Nested_Value_Names_Its_Full_Key_The_Value_And_The_Allowed_Range(string grpo, string key, string shownValue, string allowed)
    {
        var e = Assert.Throws<ConfigException>(() => TrainConfig.Parse(With(grpo)));

        Assert.That(e!.Key, Is.EqualTo(key));
        Assert.That(e.Message, Does.Contain($"'{key}'").And.Contain(shownValue).And.Contain(allowed));
    }

    static readonly string[] FlatKeys =
        ["dynamicSamplingMaxBatches", "entropyCoef", "entropyTarget", "entropyCoefStep", "entropyCoefMax", "overlapRollouts", "isTruncation"];

    static bool HasFlatKeys(JsonNode? grpo) => grpo is JsonObject o &&
        (FlatKeys.Any(o.ContainsKey) || o["dynamicSampling"] is JsonValue v && v.GetValueKind() is System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False);

    /// <summary>
    /// The configs the repo ships under models/ (a file with a grpo object at its root); models/runs holds the runs
    /// trained on this machine, which git ignores.
    /// </summary>
    static IEnumerable<string> CommittedConfigs() =>
        Directory.GetFiles(Path.Combine(TestConfigs.RepoRoot(), "models"), "*.json", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(TestConfigs.RepoRoot(), f).Replace('\\', '/'))
            .Where(f => !f.StartsWith("models/runs/", StringComparison.Ordinal))
            .Where(f => JsonNode.Parse(File.ReadAllText(Path.Combine(TestConfigs.RepoRoot(), f))) is JsonObject o && o.ContainsKey("grpo"))
            .Order();

    [TestCaseSource(nameof(CommittedConfigs))]
    public void Every_Committed_Config_Uses_The_Nested_Keys(string file)
    {
        var json = File.ReadAllText(Path.Combine(TestConfigs.RepoRoot(), file));

        Assert.That(HasFlatKeys(JsonNode.Parse(json)!["grpo"]), Is.False, "the flat keys are for old files only");
        Assert.That(FlatStabilityKeys.Nest(json), Is.SameAs(json), "a config without flat keys is read as it is");
        TrainConfig.Parse(json, file);
    }

    /// <summary>
    /// The experiment results committed under models/experiments hold the config they ran, as 0.2 wrote it: every key,
    /// the stability tools flat. They stay as they were written, and still load.
    /// </summary>
    [Test]
    public void The_Configs_Of_Experiment_Results_Written_By_0_2_Still_Load()
    {
        var results = Directory.GetFiles(Path.Combine(TestConfigs.RepoRoot(), "models", "experiments"), "*.json", SearchOption.AllDirectories)
            .Select(f => (File: f, Config: JsonNode.Parse(File.ReadAllText(f))!["config"]))
            .Where(r => r.Config is JsonObject).ToList();
        Assert.That(results.Count(r => HasFlatKeys(r.Config!["grpo"])), Is.GreaterThanOrEqualTo(3), "premise: results with the flat keys are committed");

        foreach (var (file, config) in results)
        {
            var parsed = TrainConfig.Parse(config!.ToJsonString(), file);
            Assert.That(parsed.Grpo.DynamicSampling is not null, Is.EqualTo(config["grpo"]!["dynamicSampling"]?.GetValue<bool>() ?? false), file);
            Assert.That(parsed.Grpo.Entropy?.Controller?.Target, Is.EqualTo(config["grpo"]!["entropyTarget"]?.GetValue<double>()), file);
        }
    }

    /// <summary>The models exported before 0.3 (tests/fixtures/legacy) carry their config with the flat keys in <c>grpo.config</c>.</summary>
    [TestCase("seed-l3v5-sorter1.onnx")]
    [TestCase("decoder-l1to6v8-heldout-split.onnx")]
    public void The_Config_An_Old_Exported_Model_Carries_Still_Loads(string fixture)
    {
        using var session = new InferenceSession(Path.Combine(TestContext.CurrentContext.TestDirectory, "fixtures", "legacy", fixture));
        var json = session.ModelMetadata.CustomMetadataMap[OnnxContract.Metadata.Config];
        Assert.That(HasFlatKeys(JsonNode.Parse(json)!["grpo"]), Is.True, "premise: the model was exported with the flat keys");

        var config = TrainConfig.Parse(json, fixture);

        Assert.That((config.Grpo.DynamicSampling, config.Grpo.Entropy, config.Grpo.Overlap),
            Is.EqualTo(((DynamicSamplingOptions?)null, (EntropyOptions?)null, (OverlapOptions?)null)), "it trained with every tool off");
    }
}
