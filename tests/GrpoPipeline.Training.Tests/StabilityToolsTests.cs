using GrpoPipeline.Training.Policies;
using GrpoPipeline.Core;
using GrpoPipeline.Training.Rollouts;
using NUnit.Framework;
using static GrpoPipeline.Training.Tests.TestScalars;
using static TorchSharp.torch;
using static GrpoPipeline.Training.Tests.TestConfigs;

namespace GrpoPipeline.Training.Tests;

/// <summary>
/// The tools against collapse and slow learning, each on a hand-computed case: the dual clip's bound, the entropy
/// bonus and its controller, dynamic sampling's filter and refill, the reference mixup, the curriculum's level rule,
/// and the overlapped rollouts' truncated importance weights.
/// </summary>
[TestFixture]
public sealed class StabilityToolsTests
{
    // ---- dual clip -------------------------------------------------------------------------------------------------

    static TokenLoss Clipped(double? dualClip = null) =>
        new(LossMode.Clipped, 0.2, 0.2, LossAggregation.TokenMean, RatioLevel.Token, KlEstimator.K3, 0, 1, dualClip);

    [Test]
    public void Dual_Clip_Bounds_The_Loss_Of_A_Negative_Delta_Whose_Ratio_Exceeds_C()
    {
        using var scope = NewDisposeScope();
        // Two one-token responses with δ = −1: ratios e^1.5 ≈ 4.48 (above c = 3) and e^0.5 ≈ 1.65.
        // PPO alone: −min(r·δ, clip(r)·δ) = r for each, mean (4.48 + 1.65)/2. With c = 3 the first becomes
        // −max(−4.48, 3·δ) = 3, so the mean is (3 + 1.65)/2, and that sample's gradient is 0.
        var logpOld = tensor(new float[] { -2f, -2f }, [2, 1]);
        var logp = logpOld.add(tensor(new float[] { 1.5f, 0.5f }, [2, 1]), Scalars.One).requires_grad_(true);
        var deltas = tensor(new float[] { -1, -1 });

        var ppo = GrpoLoss.Compute(new LossInputs(logp, logpOld, deltas, ones(2, 1)), Clipped()).Loss.item<float>();
        var dual = GrpoLoss.Compute(new LossInputs(logp, logpOld, deltas, ones(2, 1)), Clipped(dualClip: 3));
        dual.Loss.backward();

        Assert.That(ppo, Is.EqualTo((Math.Exp(1.5) + Math.Exp(0.5)) / 2).Within(1e-5));
        Assert.That(dual.Loss.item<float>(), Is.EqualTo((3 + Math.Exp(0.5)) / 2).Within(1e-5));
        Assert.That(logp.grad!.data<float>().ToArray(), Is.EqualTo(new[] { 0f, (float)(Math.Exp(0.5) / 2) }).Within(1e-5));
        Assert.That(dual.ClipDual.item<float>(), Is.EqualTo(0.5f));
    }

    [Test]
    public void Dual_Clip_Leaves_Positive_Deltas_Alone()
    {
        using var scope = NewDisposeScope();
        // δ = +1 with ratio e^1.5: PPO clips it at 1 + ε_high = 1.2 either way.
        var logpOld = tensor(new float[] { -2f }, [1, 1]);
        var logp = logpOld.add(K[1.5f], Scalars.One);
        var o = GrpoLoss.Compute(new LossInputs(logp, logpOld, tensor(new float[] { 1 }), ones(1, 1)), Clipped(dualClip: 3));
        Assert.That(o.Loss.item<float>(), Is.EqualTo(-1.2f).Within(1e-6));
        Assert.That(o.ClipDual.item<float>(), Is.Zero);
    }

    [Test]
    public void Dual_Clip_In_The_Per_Token_Loss()
    {
        using var scope = NewDisposeScope();
        // GrpoLossTests' example: token ratios 1.5, 0.5 (A = +1) and 1.3 (A = −1), ε = 0.2, token mean over 3 tokens.
        // c = 1.25 bounds the third: −max(min(−1.3, −1.2), −1.25) = 1.25 instead of 1.3.
        var mask = tensor(new float[] { 1, 1, 1, 0 }, [2, 2]);
        var logpOld = tensor(new float[] { -1f, -2f, -0.5f, 0f }, [2, 2]);
        var logp = logpOld.add(tensor(new[] { MathF.Log(1.5f), MathF.Log(0.5f), MathF.Log(1.3f), 9f }, [2, 2]), Scalars.One).requires_grad_(true);
        var options = new TokenLoss(LossMode.Clipped, 0.2, 0.2, LossAggregation.TokenMean, RatioLevel.Token, KlEstimator.K3, 0, 2, DualClip: 1.25);

        var o = GrpoLoss.Compute(new LossInputs(logp, logpOld, tensor(new float[] { 1, -1 }), mask), options);
        o.Loss.backward();

        Assert.That(o.Loss.item<float>(), Is.EqualTo((-1.2 - 0.5 + 1.25) / 3).Within(1e-6));
        Assert.That(o.ClipDual.item<float>(), Is.EqualTo(1f / 3).Within(1e-6));
        Assert.That(logp.grad!.data<float>().ToArray(), Is.EqualTo(new[] { 0f, -0.5f / 3, 0f, 0f }).Within(1e-6));
    }

    // ---- entropy bonus and controller ------------------------------------------------------------------------------

    [Test]
    public void Entropy_Bonus_Is_Subtracted_As_The_Token_Mean_Of_The_Entropies()
    {
        using var scope = NewDisposeScope();
        // Two tokens with uniform next-token distributions over 4 and over 2 outputs: entropies ln 4 and ln 2. Naive loss
        // with zero deltas is 0, so the loss is −0.1 · (ln 4 + ln 2)/2.
        var logProbs = tensor(new[] { MathF.Log(0.25f), MathF.Log(0.25f), MathF.Log(0.25f), MathF.Log(0.25f),
                                      MathF.Log(0.5f), MathF.Log(0.5f), -100f, -100f }, [1, 2, 4]);
        var entropy = GrpoMath.TokenEntropy(logProbs);
        var options = new TokenLoss(LossMode.Naive, 0.2, 0.2, LossAggregation.TokenMean, RatioLevel.Token, KlEstimator.K3, 0, 2, EntropyCoef: 0.1);
        var logp = tensor(new float[] { -1, -1 }, [1, 2]);

        var o = GrpoLoss.Compute(new LossInputs(logp, logp, tensor(new float[] { 0 }), ones(1, 2)) { Entropy = entropy }, options);

        Assert.That(entropy.data<float>().ToArray(), Is.EqualTo(new[] { MathF.Log(4), MathF.Log(2) }).Within(1e-5));
        Assert.That(o.Loss.item<float>(), Is.EqualTo(-0.1 * (Math.Log(4) + Math.Log(2)) / 2).Within(1e-6));
        Assert.That(o.PolicyLoss.item<float>(), Is.Zero, "the policy loss metric leaves the bonus out");
    }

    [TestCase(0.01, 0.5, 0.015)]    // entropy below the target 1.0: up by Δ = 0.005
    [TestCase(0.01, 1.5, 0.005)]    // above: down by Δ
    [TestCase(0.002, 1.5, 0.0)]     // never below 0
    [TestCase(0.049, 0.2, 0.05)]    // never above the maximum 0.05
    [TestCase(0.01, 1.0, 0.01)]     // on target: unchanged
    public void Entropy_Controller_Steps_The_Coefficient_Towards_The_Target(double coef, double entropy, double expected) =>
        Assert.That(GrpoMath.NextEntropyCoef(coef, entropy, target: 1.0, step: 0.005, max: 0.05), Is.EqualTo(expected).Within(1e-12));

    // ---- dynamic sampling ------------------------------------------------------------------------------------------

    [Test]
    public void Untied_Groups_Are_Those_Whose_Rewards_Differ()
    {
        // G = 3: [1,1,1] ties, [0,1,0] does not, [0.5,0.5,0.5] ties, [2,2,3] does not.
        float[] rewards = [1, 1, 1, 0, 1, 0, 0.5f, 0.5f, 0.5f, 2, 2, 3];
        Assert.That(GrpoMath.UntiedGroups(rewards, 3), Is.EqualTo(new[] { 1, 3 }));
    }

    [TestCase(256, 250, 250, 256, 32)]    // 6 missing at a 97.7% kept share: ⌈6/0.977·1.25⌉ = 8, rounded up to 256/8 = 32
    [TestCase(256, 100, 100, 256, 256)]   // 156 missing at 39%: 500 → a whole batch at most
    [TestCase(256, 200, 200, 256, 96)]    // 56 missing at 78.1%: ⌈89.6⌉ = 90 → 96
    [TestCase(256, 1, 1, 256, 256)]       // a 0.4% share counts as 5%: 6,375 → 256
    [TestCase(8, 6, 6, 8, 4)]             // an eighth of 8 is 1: ⌈2/0.75·1.25⌉ = ⌈3.33⌉ = 4
    public void Refill_Size_Follows_The_Kept_Share_With_A_Margin_In_Eighths_Of_The_Batch(int batch, int kept, int untied, int sampled, int expected)
    {
        Assert.That(Sampler.RefillSize(batch, kept, untied, sampled), Is.EqualTo(expected));
    }

    /// <summary>
    /// Exact match as the only reward: an untrained policy rarely sorts, so most groups tie at 0. The dynamic sampler's
    /// batch must be the untied groups of its first draw, then of its refills, in order; a refill draws
    /// ⌈missing groups / kept share so far · 1.25⌉ prompts (at most a batch). The expected draws are made here by hand
    /// from the same random state.
    /// </summary>
    [Test]
    public void Dynamic_Sampling_Keeps_The_Untied_Groups_Of_Each_Draw_In_Order_And_Refills_Up_To_The_Cap()
    {
        const int Batch = 32, Group = 4;
        var plain = TinyRandom() with
        {
            Task = TinyRandom().Task with { PromptLength = 3, VocabSize = 4, BatchSize = Batch },
            Rewards = new RewardWeights { { "inclusionOrdering", 0 }, { "sortDistance", 0 }, { "exact", 1 } },
            Grpo = new GrpoOptions { GroupSize = Group },
        };
        var dynamic = plain with { Grpo = plain.Grpo with { DynamicSampling = new DynamicSamplingOptions { MaxBatches = 2 } } };
        var task = new SortTask(plain.Task);
        var reward = new RewardFunction(TaskRegistry.Create(plain.Task), plain.Rewards);

        var expectedPrompts = new List<long[]>();
        var expectedResponses = new List<long[]>();
        var draws = new List<int>();
        int untiedSeen = 0, sampled = 0;
        using (var state = TrainingState.Create(plain))
        {
            for (int draw = 0, size = Batch; draw < 3 && expectedPrompts.Count < Batch; draw++)
            {
                using var scope = NewDisposeScope();
                var prompts = new TokenRows(size, 3);
                var responses = new TokenRows(size * Group, 3);
                var rewards = new float[size * Group];
                task.SampleTrainingBatch(prompts, state.PromptSampler);
                state.Policy.Sample(prompts, responses, new SamplingSettings(Group, plain.Grpo.Temperature, 3, state.ResponseGenerator));
                reward.Score(prompts, responses, Group, rewards);
                draws.Add(size);
                var untied = GrpoMath.UntiedGroups(rewards, Group);
                (untiedSeen, sampled) = (untiedSeen + untied.Count, sampled + size);
                foreach (int g in untied.Take(Batch - expectedPrompts.Count))
                {
                    expectedPrompts.Add(prompts[g].ToArray());
                    for (int i = 0; i < Group; i++) expectedResponses.Add(responses[g * Group + i].ToArray());
                }
                size = Sampler.RefillSize(Batch, expectedPrompts.Count, untiedSeen, sampled);
            }
        }
        Assert.That(draws, Has.Count.EqualTo(3), "premise: the first draw and one refill leave the batch short, so the cap is reached");
        Assert.That(expectedPrompts.Count, Is.InRange(1, Batch - 1), "premise: some groups tie and the three draws cannot fill the batch");

        using var dynamicState = TrainingState.Create(dynamic);
        using var _ = NewDisposeScope();
        var kept = new Sampler(dynamicState, reward).Draw(task, dynamicState.Policy, current: true);

        Assert.That(kept.Prompts.ToArrays(), Is.EqualTo(expectedPrompts));
        Assert.That(kept.Responses.ToArrays(), Is.EqualTo(expectedResponses));
        Assert.That(kept.Draw, Is.Null, "a filtered batch is replayed under the current weights");
        Assert.That(GrpoMath.UntiedGroups(kept.Rewards, Group), Has.Count.EqualTo(expectedPrompts.Count), "every kept group is untied");
        Assert.That(kept.Metrics[MetricKeys.DynamicExtraBatches], Is.EqualTo(2), "the cap of two extra draws was reached");
        Assert.That(kept.Metrics[MetricKeys.DynamicPromptsSampled], Is.EqualTo(draws.Sum()));
        Assert.That(kept.Metrics[MetricKeys.DynamicBatchFill], Is.EqualTo(expectedPrompts.Count / (double)Batch));
        Assert.That(kept.Metrics[MetricKeys.DynamicKeptShare], Is.EqualTo(untiedSeen / (double)sampled));
    }

    [Test]
    public void Dynamic_Sampling_Takes_A_Batch_Without_Ties_As_It_Was_Drawn()
    {
        // Sort distance on an untrained transformer (near-uniform outputs): no group of 16 ties, so nothing is dropped.
        var config = TinyRandom() with
        {
            Rewards = new RewardWeights { { "inclusionOrdering", 0 }, { "sortDistance", 1 }, { "exact", 0 } },
            Policy = new PolicyOptions { Kind = PolicyKind.Transformer, DModel = 16, Heads = 2, Layers = 1, MlpDim = 32 },
            Grpo = new GrpoOptions { GroupSize = 16, DynamicSampling = new DynamicSamplingOptions() },
        };
        using var state = TrainingState.Create(config);
        using var _ = NewDisposeScope();
        var batch = new Sampler(state, new RewardFunction(new SortTask(config.Task), config.Rewards)).Draw(new SortTask(config.Task), state.Policy, current: true);
        Assert.That(batch.Metrics[MetricKeys.RewardFracZeroStd], Is.Zero, "premise: no group of the first draw ties");
        Assert.That(batch.Draw, Is.Not.Null, "π_old comes from the sampling pass");
        Assert.That((batch.Metrics[MetricKeys.DynamicExtraBatches], batch.Metrics[MetricKeys.DynamicBatchFill], batch.Metrics[MetricKeys.DynamicKeptShare]),
            Is.EqualTo((0.0, 1.0, 1.0)));
    }

    [Test]
    public void Dynamic_Sampling_Trains_And_Keeps_Every_Metric_Finite()
    {
        var config = TinyRandom(epochs: 6) with { Grpo = new GrpoOptions { GroupSize = 4, InnerSteps = 2, DynamicSampling = new DynamicSamplingOptions() } };
        using var trainer = new GrpoTrainer(TrainingState.Create(config));
        for (int e = 0; e < 6; e++)
        {
            var m = trainer.RunEpoch();
            Assert.That(m.Values.Select(kv => kv.Value), Is.All.Matches<double>(double.IsFinite), string.Join(", ", m.Values));
            Assert.That(m[MetricKeys.DynamicBatchFill], Is.InRange(0.0, 1.0));
        }
    }

    // ---- reference mixup -------------------------------------------------------------------------------------------

    [Test]
    public void Reference_Mixup_Moves_Each_Weight_A_Fraction_Alpha_Towards_The_Policy()
    {
        var config = Tiny() with { Grpo = new GrpoOptions { KlCoef = 0.1, RefPeriod = 2, RefMixup = 0.25 } };
        using var state = TrainingState.Create(config);
        state.RefreshReferenceIfDue(0);                 // the first reference: a copy
        var before = Snapshot(state.Reference!);
        using (no_grad())
            foreach (var p in state.Policy.parameters()) p.add_(Scalars.One, Scalars.One);
        var policy = Snapshot(state.Policy);

        state.RefreshReferenceIfDue(1);                 // not due
        Assert.That(SameWeights(Snapshot(state.Reference!), before), Is.True);
        state.RefreshReferenceIfDue(2);                 // due: ref ← 0.25·π + 0.75·ref = ref + 0.25 where π = ref + 1
        var after = Snapshot(state.Reference!);
        foreach (var (name, values) in after)
            for (int i = 0; i < values.Length; i++)
                Assert.That(values[i], Is.EqualTo(0.25f * policy[name][i] + 0.75f * before[name][i]).Within(1e-5), name);
    }

    // ---- curriculum ------------------------------------------------------------------------------------------------

    [TestCase(3, 0.96, 4)]   // passed the threshold: up one step
    [TestCase(3, 0.95, 4)]   // exactly the threshold counts
    [TestCase(3, 0.90, 3)]   // below: stays
    [TestCase(8, 1.00, 8)]   // the last level stays
    [TestCase(7, 1.00, 8)]   // a step of 2 from 7 stops at the last level
    public void Curriculum_Level_Rises_By_Step_When_Held_Out_Exact_Reaches_The_Threshold(int level, double exact, int expected)
    {
        var options = new CurriculumOptions { Start = 2, Step = level == 7 ? 2 : 1, Threshold = 0.95 };
        Assert.That(Curriculum.NextLevel(level, exact, options, finalLevel: 8), Is.EqualTo(expected));
    }

    [Test]
    public void A_Curriculum_Level_Samples_Only_Its_Lengths_Or_Values_With_The_Same_Split()
    {
        var variable = new TaskOptions { Kind = TaskKind.Variable, MinLength = 1, MaxLength = 8, VocabSize = 10, BatchSize = 200 };
        var atThree = new SortTask(variable.AtLevel(3));
        var batch = new TokenRows(200, 8, variable.Special.Pad);
        atThree.SampleTrainingBatch(batch, new Rng(5));
        Assert.That(batch.Lengths, Is.All.InRange(1, 3));
        Assert.That(batch.Lengths.Distinct().Count(), Is.EqualTo(3));

        var random = new TaskOptions { Kind = TaskKind.Random, PromptLength = 5, VocabSize = 32, BatchSize = 200 };
        var small = new SortTask(random.AtLevel(8));
        var prompts = new TokenRows(200, 5);
        small.SampleTrainingBatch(prompts, new Rng(5));
        Assert.That(prompts.Tokens, Is.All.InRange(0L, 7L));
        var full = new SortTask(random);
        var levelHeldOut = small.HeldOutPrompts(50, 1);
        Assert.That(levelHeldOut, Has.Count.EqualTo(50).And.All.All.InRange(0L, 7L), "the level's held-out prompts are of its values");
        foreach (var p in levelHeldOut) Assert.That(full.IsHeldOut(p), Is.True, "a level's held-out prompts are held out from the whole task");
    }

    [Test]
    public void Curriculum_Checks_On_Schedule_Logs_The_Level_And_Raises_It()
    {
        // Threshold 1e-9: any held-out exact above 0 at the level moves it; lengths 1..2 of V=3 are easy enough.
        var config = TinyRandom(epochs: 12) with
        {
            Task = new TaskOptions { Kind = TaskKind.Variable, MinLength = 1, MaxLength = 3, VocabSize = 3, BatchSize = 16, HeldOutSize = 16,
                HeldOutFraction = 0.3, Curriculum = new CurriculumOptions { Start = 1, Every = 4, Threshold = 1e-9, HeldOutSize = 8 } },
            Policy = new PolicyOptions { Kind = PolicyKind.Decoder, DModel = 16, Heads = 2, Layers = 1, MlpDim = 32 },
            Grpo = new GrpoOptions { GroupSize = 4, InnerSteps = 1, LearningRate = 0.01, KlCoef = 0 },
        };
        using var trainer = new GrpoTrainer(TrainingState.Create(config));
        var levels = new List<double>();
        for (int e = 1; e <= 12; e++)
        {
            var m = trainer.RunEpoch();
            levels.Add(m[MetricKeys.CurriculumLevel]);
            Assert.That(m.TryGet(MetricKeys.CurriculumExact, out _), Is.EqualTo(e % 4 == 0 && m[MetricKeys.CurriculumLevel] < 3), $"epoch {e}");
        }
        Assert.That(levels[0], Is.EqualTo(1));
        Assert.That(levels, Is.Ordered, "the level never falls");
        Assert.That(levels.Zip(levels.Skip(1)).Select((p, i) => (p, i)).Where(x => x.p.First != x.p.Second).Select(x => (x.i + 1) % 4),
            Is.All.EqualTo(0), "the level changes only after a check");
    }

    // ---- overlapped rollouts ---------------------------------------------------------------------------------------

    [Test]
    public void Importance_Weights_Are_Truncated_At_The_Cap_On_Response_Tokens_Only()
    {
        using var scope = NewDisposeScope();
        // π_old/π_behaviour: 3 (truncated to 2), 0.5, and a masked slot.
        var behaviour = tensor(new float[] { -2f, -1f, -5f }, [1, 3]);
        var old = behaviour.add(tensor(new[] { MathF.Log(3), MathF.Log(0.5f), 30f }, [1, 3]), Scalars.One);
        var metrics = new EpochMetrics(1);

        var w = ImportanceWeights.Truncated(old, behaviour, tensor(new float[] { 1, 1, 0 }, [1, 3]), cap: 2, metrics);

        Assert.That(w.data<float>().ToArray(), Is.EqualTo(new[] { 2f, 0.5f, 1f }).Within(1e-5));
        Assert.That(metrics[MetricKeys.OverlapIsWeight], Is.EqualTo((3 + 0.5) / 2).Within(1e-5));
        Assert.That(metrics[MetricKeys.OverlapIsWeightTruncated], Is.EqualTo((2 + 0.5) / 2).Within(1e-5));
        Assert.That(metrics[MetricKeys.OverlapIsTruncatedShare], Is.EqualTo(0.5));
    }

    [Test]
    public void Importance_Weights_Multiply_Each_Tokens_Policy_Loss_But_Not_The_Kl()
    {
        using var scope = NewDisposeScope();
        // GrpoLossTests' example, token mean over 3 tokens: per-token clipped losses −1.2, −0.5 (δ = +1) and 1.3 (δ = −1).
        // Weights 2, 0.5 and 1.5 (junk in the masked slot): (−2.4 − 0.25 + 1.95)/3 = −0.7/3; the gradient of the one
        // unclipped token of each response is scaled too: −0.5·0.5/3 and 1.3·1.5/3. k1 with log π_ref = log π − 1 is 1
        // per token whatever the weights: (2 + 1)/2, and β·k1 adds β/N = 0.05 to each token's gradient, unweighted.
        var mask = tensor(new float[] { 1, 1, 1, 0 }, [2, 2]);
        var logpOld = tensor(new float[] { -1f, -2f, -0.5f, 0f }, [2, 2]);
        var logp = logpOld.add(tensor(new[] { MathF.Log(1.5f), MathF.Log(0.5f), MathF.Log(1.3f), 9f }, [2, 2]), Scalars.One).requires_grad_(true);
        var options = new TokenLoss(LossMode.Clipped, 0.2, 0.2, LossAggregation.TokenMean, RatioLevel.Token, KlEstimator.K1, 0.1, 2);
        var inputs = new LossInputs(logp, logpOld, tensor(new float[] { 1, -1 }), mask)
        {
            RefLogp = logp.detach() - Scalars.One,
            Weights = tensor(new float[] { 2, 0.5f, 1.5f, 99 }, [2, 2]),
        };

        var o = GrpoLoss.Compute(inputs, options);
        o.Loss.backward();

        Assert.That(o.PolicyLoss.item<float>(), Is.EqualTo(-0.7 / 3).Within(1e-6));
        Assert.That(o.Kl.item<float>(), Is.EqualTo(1.5).Within(1e-6));
        Assert.That(logp.grad!.data<float>().ToArray(), Is.EqualTo(new[] { 0.05f, -0.25f / 3 + 0.05f, 1.95f / 3 + 0.05f, 0f }).Within(1e-6));
    }

    [Test]
    public void The_First_Overlapped_Rollout_Is_Drawn_With_The_Current_Weights_And_Later_Ones_With_Older_Weights()
    {
        var config = TinyRandom(epochs: 4) with { Grpo = new GrpoOptions { GroupSize = 4, InnerSteps = 2, LearningRate = 0.01, KlCoef = 0, Overlap = new OverlapOptions() } };
        var plain = config with { Grpo = config.Grpo with { Overlap = null } };
        using var overlapped = new GrpoTrainer(TrainingState.Create(config));
        using var reference = new GrpoTrainer(TrainingState.Create(plain));
        var first = overlapped.RunEpoch();
        var firstPlain = reference.RunEpoch();
        // Epoch 1: the same weights draw the same responses from the same random state, and π_old = π_behaviour.
        Assert.That(first[MetricKeys.RewardMean], Is.EqualTo(firstPlain[MetricKeys.RewardMean]));
        Assert.That(first[MetricKeys.OverlapIsWeight], Is.EqualTo(1).Within(1e-6));
        // Epoch 2 trains on responses drawn with the initial weights while the policy has taken its μ steps.
        var second = overlapped.RunEpoch();
        Assert.That(second[MetricKeys.OverlapIsWeight], Is.Not.EqualTo(1).Within(1e-4));
        Assert.That(second[MetricKeys.OverlapIsWeightTruncated], Is.LessThanOrEqualTo(second[MetricKeys.OverlapIsWeight]));
    }

    [Test]
    public void Two_Overlapped_Runs_Of_One_Config_Are_Identical()
    {
        var config = TinyRandom(epochs: 5) with { Grpo = new GrpoOptions { GroupSize = 4, InnerSteps = 2, Overlap = new OverlapOptions(), DynamicSampling = new DynamicSamplingOptions() } };
        List<List<KeyValuePair<string, double>>> Run()
        {
            using var trainer = new GrpoTrainer(TrainingState.Create(config));
            return [.. Enumerable.Range(0, 5).Select(_ => WithoutWallClock(trainer.RunEpoch()))];
        }
        Assert.That(Run(), Is.EqualTo(Run()));
    }
}
