using GrpoPipeline.Training.Policies;
using GrpoPipeline.Core;
using GrpoPipeline.Training;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GrpoPipeline.Training.Tests;

[TestFixture, NonParallelizable]   // torch's global generator seeds the initial weights
public sealed class TransformerTests
{
    static TrainConfig SmallTask(PolicyOptions policy, int epochs) => new()
    {
        Epochs = epochs,
        Task = new TaskOptions { Kind = TaskKind.Random, PromptLength = 4, VocabSize = 6, BatchSize = 32, HeldOutSize = 256 },
        Rewards = new RewardWeights { { "inclusionOrdering", 0 }, { "sortDistance", 1 } },
        Policy = policy,
        Grpo = new GrpoOptions { GroupSize = 16, InnerSteps = 2, KlCoef = 0, ClipLow = 0.2, ClipHigh = 0.2, LearningRate = 2e-3, MaxGradNorm = 1 },
        Run = new RunOptions { Threads = 1 },
    };

    [Test]
    public void Forward_Maps_Prompts_B_L_To_Logits_B_L_V()
    {
        using var policy = new FactorisedTransformerPolicy(vocab: 7, length: 5, dModel: 16, heads: 4, layers: 2, mlpDim: 32, dropout: 0);
        using var scope = NewDisposeScope();
        var logits = policy.forward(randint(0, 7, [3, 5], dtype: ScalarType.Int64));
        Assert.That(logits.shape, Is.EqualTo(new long[] { 3, 5, 7 }));
    }

    [Test]
    public void Every_Output_Position_Depends_On_Every_Prompt_Token()
    {
        using var policy = new FactorisedTransformerPolicy(vocab: 7, length: 5, dModel: 16, heads: 4, layers: 1, mlpDim: 32, dropout: 0);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var a = policy.forward(tensor(new long[] { 1, 2, 3, 4, 5 }, [1, 5]));
        var b = policy.forward(tensor(new long[] { 1, 2, 3, 4, 6 }, [1, 5]));   // only the last token differs
        var changed = (a - b).abs().amax([2]).squeeze(0).data<float>().ToArray();
        Assert.That(changed, Is.All.GreaterThan(0f), "attention spreads the last token to every position");
    }

    [Test]
    public void Dropout_Is_Off_In_Eval_Mode()
    {
        using var policy = new FactorisedTransformerPolicy(vocab: 7, length: 5, dModel: 16, heads: 4, layers: 2, mlpDim: 32, dropout: 0.5);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        policy.eval();
        var prompts = tensor(new long[] { 1, 2, 3, 4, 5 }, [1, 5]);
        Assert.That((policy.forward(prompts) - policy.forward(prompts)).abs().max().item<float>(), Is.EqualTo(0f));
        policy.train();
        Assert.That((policy.forward(prompts) - policy.forward(prompts)).abs().max().item<float>(), Is.GreaterThan(0f),
            "in train mode dropout is active, so this test can tell the modes apart");
    }

    [Test]
    public void A_Tiny_Transformer_Sorts_Held_Out_Prompts_Far_Better_Than_The_Seed_Model_In_A_Few_Seconds()
    {
        double HeldOutExactAfter(PolicyOptions policy)
        {
            using var trainer = new GrpoTrainer(TrainingState.Create(SmallTask(policy, epochs: 60)));
            for (int e = 0; e < 60; e++) trainer.RunEpoch();
            return trainer.EvaluateHeldOut().Exact;
        }
        double transformer = HeldOutExactAfter(new PolicyOptions { Kind = PolicyKind.Transformer, DModel = 32, Heads = 4, Layers = 2, MlpDim = 64 });
        double seed = HeldOutExactAfter(new PolicyOptions { Kind = PolicyKind.Seed, EmbeddingDim = 32 });
        TestContext.Out.WriteLine($"held-out exact after 60 epochs: transformer {transformer:P1}, seed {seed:P1}");
        Assert.That(transformer, Is.GreaterThan(seed + 0.3));
    }

    [Test]
    public void Heads_Must_Divide_DModel()
    {
        var e = Assert.Throws<ConfigException>(() => new PolicyOptions { Kind = PolicyKind.Transformer, DModel = 30, Heads = 4 }.Validate());
        Assert.That(e!.Message, Does.Contain("policy.heads").And.Contain("30"));
    }

    [Test]
    public void Checkpoints_Rebuild_A_Transformer_From_The_Sidecar_Alone()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"grpo-transformer-{Guid.NewGuid():N}");
        try
        {
            var config = SmallTask(new PolicyOptions { Kind = PolicyKind.Transformer, DModel = 16, Heads = 2, Layers = 1, MlpDim = 32 }, epochs: 3);
            using (var run = TrainingRun.StartNew(config, new RunDirectory(dir), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance))
                run.Train();
            using var state = Checkpoint.Load(Checkpoint.Resolve(dir));
            Assert.That(state.Policy, Is.InstanceOf<FactorisedTransformerPolicy>());
            Assert.That(state.Epoch, Is.EqualTo(3));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
