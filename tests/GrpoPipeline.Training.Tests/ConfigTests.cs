using System.Text.Json.Nodes;
using GrpoPipeline.Core;
using NUnit.Framework;

namespace GrpoPipeline.Training.Tests;

/// <summary>Training config JSON: the shipped seed config, strict parsing, validation messages, round trips.</summary>
[TestFixture]
public sealed class ConfigTests
{
    static string RepoRoot() => TestConfigs.RepoRoot();

    static string SeedConfigPath => Path.Combine(RepoRoot(), "models", "configs", "seed.json");

    static IEnumerable<string> CommittedConfigs() =>
        Directory.GetFiles(Path.Combine(RepoRoot(), "models", "configs"), "*.json").Select(Path.GetFileName).Order()!;

    /// <summary>Every config the repo ships loads, validates, and names its run after its file.</summary>
    [TestCaseSource(nameof(CommittedConfigs))]
    public void Every_Committed_Config_Loads_And_Validates(string file)
    {
        var config = TrainConfig.Load(Path.Combine(RepoRoot(), "models", "configs", file));
        Assert.That(config.RunName, Is.EqualTo(Path.GetFileNameWithoutExtension(file)));
    }

    /// <summary>The seed config with one value replaced, e.g. <c>("grpo", "groupSize", 1)</c>.</summary>
    static string SeedWith(string section, string key, JsonNode? value)
    {
        var root = JsonNode.Parse(File.ReadAllText(SeedConfigPath))!.AsObject();
        var target = section.Length == 0 ? root : root[section]!.AsObject();
        target[key] = value;
        return root.ToJsonString();
    }

    [Test]
    public void The_Seed_Config_Parses_To_The_Lecture_Setting()
    {
        var config = TrainConfig.Load(SeedConfigPath);

        Assert.That(config.RunName, Is.EqualTo("seed"));
        Assert.That(config.Seed, Is.EqualTo(0));
        Assert.That(config.Epochs, Is.EqualTo(1000));
        Assert.That(config.Task.Kind, Is.EqualTo(TaskKind.Fixed));
        Assert.That(config.Task.Prompts, Is.EqualTo(new long[][] { [1, 0, 2], [3, 2, 4], [1, 2, 3] }));
        Assert.That(config.Task.Length, Is.EqualTo(3));
        Assert.That(config.Task.Vocab, Is.EqualTo(5));
        Assert.That(config.Task.Name, Is.EqualTo("sort"));
        Assert.That(TaskRegistry.Create(config.Task).Weights(config.Rewards), Is.EqualTo(new[] { 1.0, 0, 0 }), "inclusionOrdering 1, sortDistance 0, exact 0");
        Assert.That(config.Policy.Kind, Is.EqualTo(PolicyKind.Seed));
        Assert.That(config.Policy.EmbeddingDim, Is.EqualTo(10));
        var grpo = config.Grpo;
        Assert.That(grpo.GroupSize, Is.EqualTo(10));
        Assert.That(grpo.InnerSteps, Is.EqualTo(10));
        Assert.That(grpo.Deltas, Is.EqualTo(DeltasMode.Centered));
        Assert.That(grpo.Loss, Is.EqualTo(LossMode.Clipped));
        Assert.That(grpo.ClipLow, Is.EqualTo(0.1));
        Assert.That(grpo.ClipHigh, Is.EqualTo(0.1));
        Assert.That(grpo.KlCoef, Is.EqualTo(0.01));
        Assert.That(grpo.KlEstimator, Is.EqualTo(KlEstimator.K3));
        Assert.That(grpo.RefPeriod, Is.EqualTo(10));
        Assert.That(grpo.LearningRate, Is.EqualTo(1e-3));
        Assert.That(grpo.Temperature, Is.EqualTo(1));
        Assert.That(config.Run.HeldOutEvery, Is.EqualTo(100));
        Assert.That(config.Run.CheckpointEvery, Is.EqualTo(500));
        Assert.That(config.SamplesPerEpoch, Is.EqualTo(30));
    }

    [Test]
    public void The_Seed_Config_Matches_The_Code_Defaults_Of_The_Lecture_Setting()
    {
        var seed = TrainConfig.Load(SeedConfigPath);
        var defaults = new TrainConfig();

        Assert.That(seed.Grpo, Is.EqualTo(defaults.Grpo));
        Assert.That(seed.Policy, Is.EqualTo(defaults.Policy));
        Assert.That(TaskRegistry.Create(seed.Task).Weights(seed.Rewards), Is.EqualTo(TaskRegistry.Create(defaults.Task).Weights(defaults.Rewards)),
            "the same weights, spelled out in the file");
    }

    [Test]
    public void A_Reward_Weight_For_A_Component_The_Task_Lacks_Is_An_Error_Naming_Its_Components()
    {
        var json = File.ReadAllText(SeedConfigPath).Replace("\"rewards\": { \"inclusionOrdering\": 1", "\"rewards\": { \"digitShare\": 1");

        Assert.That(() => TrainConfig.Parse(json), Throws.TypeOf<ConfigException>()
            .With.Property(nameof(ConfigException.Key)).EqualTo("rewards.digitShare")
            .And.Message.Contains("its components are inclusionOrdering, sortDistance, exact"));
    }

    [TestCase("", "bogus", "bogus")]
    [TestCase("grpo", "groupSzie", "grpo.groupSzie")]
    [TestCase("task", "promptLen", "task.promptLen")]
    public void An_Unknown_Key_Is_An_Error_Whose_Message_Names_The_Key_Path(string section, string key, string path)
    {
        var json = SeedWith(section, key, 1);

        var e = Assert.Throws<ConfigException>(() => TrainConfig.Parse(json));
        Assert.That(e!.Key, Does.EndWith(path));
        // The CLI prints only the message, so the message itself must say where the key is.
        Assert.That(e.Message, Does.Contain(path));
    }

    [TestCase("""{"task": {"kind": "fixed"}, "policy": {"kind": "decoder"}}""", "task.kind", "variable with policy.kind = decoder")]
    [TestCase("""{"task": {"kind": "random"}, "policy": {"kind": "decoder"}}""", "task.kind", "task.minLength = task.maxLength")]
    [TestCase("""{"task": {"kind": "variable"}, "policy": {"kind": "transformer"}}""", "policy.kind", "decoder for a variable-length task")]
    [TestCase("""{"task": {"kind": "variable"}}""", "policy.kind", "seed and transformer answer every position at once")]
    [TestCase("""{"task": {"kind": "variable", "minLength": 6, "maxLength": 4}, "policy": {"kind": "decoder"}}""", "task.minLength", "1..maxLength (4)")]
    [TestCase("""{"task": {"kind": "variable", "maxLength": 40}, "policy": {"kind": "decoder"}}""", "task.maxLength", "1..32")]
    [TestCase("""{"task": {"kind": "variable"}, "policy": {"kind": "decoder", "dModel": 30, "heads": 4}}""", "policy.heads", "a divisor of dModel (30)")]
    [TestCase("""{"task": {"kind": "variable"}, "policy": {"kind": "decoder"}, "grpo": {"lossAggregation": "token_sum"}}""", "grpo.lossAggregation", "sequence_mean, token_mean, constant")]
    public void A_Policy_And_Task_That_Do_Not_Fit_Name_The_Key(string json, string key, string mention)
    {
        var e = Assert.Throws<ConfigException>(() => TrainConfig.Parse(json));
        Assert.That(e!.Key, Is.EqualTo(key));
        Assert.That(e.Message, Does.Contain(mention));
    }

    [Test]
    public void Keys_Are_Case_Sensitive_So_A_Misspelled_Case_Is_An_Unknown_Key()
    {
        // With case-insensitive keys this trained 3 epochs without a word.
        var e = Assert.Throws<ConfigException>(() => TrainConfig.Parse("""{"epochs": -5, "Epochs": 3}"""));
        Assert.That(e!.Key, Is.EqualTo("Epochs"));
        Assert.That(e.Message, Does.Contain("'Epochs'"));
        Assert.That(() => TrainConfig.Parse("""{"grpo": {"GroupSize": 8}}"""), Throws.TypeOf<ConfigException>().With.Message.Contains("grpo.GroupSize"));
    }

    [TestCase("""{"epochs": 5, "epochs": 3}""", "epochs")]
    [TestCase("""{"grpo": {"groupSize": 8, "innerSteps": 2, "groupSize": 4}}""", "grpo.groupSize")]
    public void A_Key_That_Appears_Twice_Is_An_Error_Naming_It(string json, string key)
    {
        var e = Assert.Throws<ConfigException>(() => TrainConfig.Parse(json));
        Assert.That(e!.Key, Is.EqualTo(key));
        Assert.That(e.Message, Does.Contain($"'{key}'").And.Contain("Duplicate"));
    }

    [TestCase("deltas", "bogus")]
    [TestCase("loss", "Clipped_")]
    [TestCase("klEstimator", "k4")]
    public void An_Unknown_Enum_Value_Is_An_Error(string key, string value)
    {
        var e = Assert.Throws<ConfigException>(() => TrainConfig.Parse(SeedWith("grpo", key, value)));
        Assert.That(e!.Message + " " + e.Key, Does.Contain(key));
    }

    [Test]
    public void An_Enum_Given_As_A_Number_Is_An_Error()
    {
        Assert.That(() => TrainConfig.Parse(SeedWith("grpo", "deltas", 1)), Throws.TypeOf<ConfigException>());
    }

    [Test]
    public void A_Number_Given_As_A_String_Is_An_Error()
    {
        Assert.That(() => TrainConfig.Parse(SeedWith("grpo", "groupSize", "10")), Throws.TypeOf<ConfigException>());
    }

    [TestCase("grpo", "groupSize", 1, "grpo.groupSize", "= 1", "2..4096")]
    [TestCase("grpo", "groupSize", 5000, "grpo.groupSize", "= 5000", "2..4096")]
    [TestCase("grpo", "innerSteps", 0, "grpo.innerSteps", "= 0", "1..1000")]
    [TestCase("grpo", "clipLow", 0, "grpo.clipLow", "= 0", "0 < ε_low < 1")]
    [TestCase("grpo", "clipHigh", -0.5, "grpo.clipHigh", "= -0.5", "0 < ε_high")]
    [TestCase("grpo", "klCoef", -1, "grpo.klCoef", "= -1", "0..100")]
    [TestCase("grpo", "learningRate", -1, "grpo.learningRate", "= -1", "0 < lr ≤ 1")]
    [TestCase("grpo", "refPeriod", -1, "grpo.refPeriod", "= -1", "0 (never refresh)")]
    [TestCase("grpo", "temperature", 0, "grpo.temperature", "= 0", "0.01..100")]
    [TestCase("grpo", "maxGradNorm", -1, "grpo.maxGradNorm", "= -1", "0 (off)")]
    [TestCase("", "epochs", 0, "epochs", "= 0", "1..100000000")]
    [TestCase("", "seed", -3, "seed", "= -3", "≥ 0")]
    [TestCase("policy", "embeddingDim", 0, "policy.embeddingDim", "= 0", "1..4096")]
    [TestCase("rewards", "inclusionOrdering", -1, "rewards.inclusionOrdering", "= -1", "0..1000")]
    [TestCase("task", "heldOutSize", -1, "task.heldOutSize", "= -1", "0..1000000")]
    [TestCase("run", "heldOutEvery", -1, "run.heldOutEvery", "= -1", "≥ 0")]
    [TestCase("run", "logEvery", 0, "run.logEvery", "= 0", "≥ 1")]
    public void An_Invalid_Value_Names_The_Key_The_Value_And_The_Allowed_Range(
        string section, string key, double value, string path, string shownValue, string allowed)
    {
        var e = Assert.Throws<ConfigException>(() => TrainConfig.Parse(SeedWith(section, key, value)));

        Assert.That(e!.Key, Is.EqualTo(path));
        Assert.That(e.Message, Does.Contain($"'{path}'").And.Contain(shownValue).And.Contain(allowed));
    }

    [TestCase("task")]
    [TestCase("rewards")]
    [TestCase("policy")]
    [TestCase("grpo")]
    [TestCase("run")]
    public void A_Null_Section_Is_An_Error_Naming_The_Section(string section)
    {
        var e = Assert.Throws<ConfigException>(() => TrainConfig.Parse(SeedWith("", section, null)));
        Assert.That(e!.Key, Is.EqualTo(section));
    }

    [Test]
    public void Prompts_Of_Different_Lengths_Are_An_Error_Naming_The_Prompt()
    {
        var json = SeedWith("task", "prompts", JsonNode.Parse("[[1, 0, 2], [3, 2]]"));

        var e = Assert.Throws<ConfigException>(() => TrainConfig.Parse(json));
        Assert.That(e!.Key, Is.EqualTo("task.prompts[1].length"));
    }

    [Test]
    public void A_Run_Name_That_Is_Not_A_Folder_Name_Is_An_Error()
    {
        var e = Assert.Throws<ConfigException>(() => TrainConfig.Parse(SeedWith("", "runName", "a/b")));
        Assert.That(e!.Key, Is.EqualTo("runName"));
    }

    [TestCase("null")]
    [TestCase("[1, 2]")]
    [TestCase("{ \"epochs\": ")]
    public void Json_That_Is_Not_A_Config_Object_Is_A_ConfigException(string json)
    {
        Assert.That(() => TrainConfig.Parse(json), Throws.TypeOf<ConfigException>());
    }

    [Test]
    public void Loading_A_Missing_File_Is_A_ConfigException()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"grpo-missing-{Guid.NewGuid():N}.json");

        var e = Assert.Throws<ConfigException>(() => TrainConfig.Load(missing));
        Assert.That(e!.Message, Does.Contain(missing));
    }

    [TestCase("deltas", "rloo", DeltasMode.Rloo)]
    [TestCase("loss", "cispo", LossMode.Cispo)]
    public void A_Mode_Parses_By_Its_Snake_Case_Name<T>(string key, string name, T mode) where T : struct, Enum
    {
        var grpo = TrainConfig.Parse(SeedWith("grpo", key, name)).Grpo;
        Assert.That(typeof(GrpoOptions).GetProperties().Single(p => p.PropertyType == typeof(T)).GetValue(grpo), Is.EqualTo(mode));
    }

    [TestCase("clipped", "clipLow", 1.0, "grpo.clipLow", "0 < ε_low < 1 (or 1 with grpo.loss cispo")]
    [TestCase("cispo", "clipLow", 1.5, "grpo.clipLow", "0 < ε_low < 1 (or 1 with grpo.loss cispo")]
    [TestCase("cispo", "dualClip", 3.0, "grpo.dualClip", "null unless grpo.loss is clipped")]
    [TestCase("unclipped", "dualClip", 3.0, "grpo.dualClip", "null unless grpo.loss is clipped")]
    public void A_Setting_The_Loss_Does_Not_Use_Names_The_Key(string loss, string key, double value, string path, string allowed)
    {
        var json = JsonNode.Parse(SeedWith("grpo", "loss", loss))!;
        json["grpo"]![key] = value;
        var e = Assert.Throws<ConfigException>(() => TrainConfig.Parse(json.ToJsonString()));
        Assert.That(e!.Key, Is.EqualTo(path));
        Assert.That(e.Message, Does.Contain(allowed));
    }

    [Test]
    public void Cispo_Takes_No_Lower_Bound_As_MiniMax_M1_Does()
    {
        var json = JsonNode.Parse(SeedWith("grpo", "loss", "cispo"))!;
        json["grpo"]!["clipLow"] = 1.0;
        Assert.That(TrainConfig.Parse(json.ToJsonString()).Grpo.ClipLow, Is.EqualTo(1.0));
    }

    [Test]
    public void Enum_Names_Are_Snake_Case_In_Json()
    {
        var config = new TrainConfig
        {
            Grpo = new GrpoOptions { Deltas = DeltasMode.BatchNormalized, KlEstimator = KlEstimator.K3, Loss = LossMode.Unclipped },
            Task = new TaskOptions { Kind = TaskKind.Random },
        };

        var json = config.ToJson();

        Assert.That(json, Does.Contain("\"batch_normalized\"").And.Contain("\"k3\"").And.Contain("\"unclipped\"").And.Contain("\"random\""));
        Assert.That(json, Does.Contain("\"groupSize\"").And.Not.Contain("\"GroupSize\""), "keys are camelCase");
        Assert.That(json, Does.Not.Contain("samplesPerEpoch"), "derived values are not written");
        var parsed = TrainConfig.Parse(SeedWith("grpo", "deltas", "batch_normalized"));
        Assert.That(parsed.Grpo.Deltas, Is.EqualTo(DeltasMode.BatchNormalized));
    }

    static IEnumerable<TestCaseData> RoundTripConfigs()
    {
        yield return new TestCaseData(new TrainConfig()).SetArgDisplayNames("defaults");
        yield return new TestCaseData(new TrainConfig
        {
            RunName = "scale",
            Seed = 42,
            Epochs = 123,
            Task = new TaskOptions { Kind = TaskKind.Random, PromptLength = 8, VocabSize = 16, BatchSize = 256, SplitSalt = ulong.MaxValue },
            Rewards = new RewardWeights { { "inclusionOrdering", 0.5 }, { "sortDistance", 1 }, { "exact", 2 } },
            Policy = new PolicyOptions { EmbeddingDim = 32 },
            Grpo = new GrpoOptions
            {
                GroupSize = 16, InnerSteps = 3, Deltas = DeltasMode.Max, Loss = LossMode.Naive, ClipLow = 0.2, ClipHigh = 0.28,
                KlCoef = 0, KlEstimator = KlEstimator.Exact, RefPeriod = 0, LearningRate = 3e-4, MaxGradNorm = 1, Temperature = 0.7,
            },
            Run = new RunOptions { LogEvery = 7, HeldOutEvery = 0, CheckpointEvery = 0, Threads = 0, Tensorboard = false },
        }).SetArgDisplayNames("everything changed");
    }

    [TestCaseSource(nameof(RoundTripConfigs))]
    public void ToJson_Then_Parse_Round_Trips(TrainConfig config)
    {
        var json = config.ToJson();
        var parsed = TrainConfig.Parse(json);

        Assert.That(parsed.ToJson(), Is.EqualTo(json));
        Assert.That(parsed.Grpo, Is.EqualTo(config.Grpo));
        Assert.That(parsed.Task.SplitSalt, Is.EqualTo(config.Task.SplitSalt));
        Assert.That(parsed.Run, Is.EqualTo(config.Run));
    }

    [Test]
    public void The_Seed_Config_Round_Trips_Through_ToJson()
    {
        var config = TrainConfig.Load(SeedConfigPath);

        Assert.That(TrainConfig.Parse(config.ToJson()).ToJson(), Is.EqualTo(config.ToJson()));
    }
}
