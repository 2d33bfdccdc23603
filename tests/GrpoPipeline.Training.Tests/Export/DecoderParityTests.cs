using GrpoPipeline.Core;
using GrpoPipeline.Inference;
using GrpoPipeline.Training.Policies;
using Microsoft.ML.OnnxRuntime;
using NUnit.Framework;
using static GrpoPipeline.Training.Tests.TestScalars;
using static TorchSharp.torch;

namespace GrpoPipeline.Training.Tests.Export;

/// <summary>
/// The exported decoder (<c>decoder/1</c>) computes what the TorchSharp <see cref="DecoderPolicy"/> computes: the
/// logits of whole left-padded sequences in one run, the logits of every step of a cached decode, and the greedy
/// responses of the Inference library's decode loop, on a decoder trained on lengths 3..8.
/// </summary>
[TestFixture, NonParallelizable]   // torch's global generator seeds the initial weights
public sealed class DecoderParityTests
{
    const double LogitTolerance = 1e-4;
    static TrainedModel _model = null!;
    static DecoderPolicy Policy => (DecoderPolicy)_model.State.Policy;

    static TrainConfig Config => new()
    {
        RunName = "decoder-parity",
        Seed = 4,
        Epochs = 150,
        Task = new TaskOptions { Kind = TaskKind.Variable, MinLength = 3, MaxLength = 8, VocabSize = 12, BatchSize = 32, HeldOutSize = 1000 },
        Rewards = new RewardWeights { { "inclusionOrdering", 0 }, { "sortDistance", 1 } },
        Policy = new PolicyOptions { Kind = PolicyKind.Decoder, DModel = 32, Heads = 4, Layers = 2, MlpDim = 64 },
        Grpo = new GrpoOptions { GroupSize = 8, InnerSteps = 2, KlCoef = 0, ClipLow = 0.2, ClipHigh = 0.2, LearningRate = 3e-3, MaxGradNorm = 1 },
        Run = new RunOptions { Threads = 1 },
    };

    [OneTimeSetUp]
    public void Train() => _model = TrainedModel.Train(Config, ExportedModels.NewPath("decoder.onnx"));

    [OneTimeTearDown]
    public void Release() => _model?.Dispose();

    [Test]
    public void Whole_Sequences_In_One_Run_Match_TorchSharp_Within_1e4()
    {
        Assert.That(_model.LastReward, Is.GreaterThan(_model.FirstReward), "the compared weights are trained, not the initial ones");
        var (sequences, width) = SampledSequences(200, seed: 31);
        var torchLogits = TorchLogits(sequences, width);                        // [N, T, V+2]
        using var session = new InferenceSession(_model.OnnxPath);
        using var outputs = RunOrt(session, sequences, width, past: null, pastLength: 0);
        var ortLogits = outputs[0].GetTensorDataAsSpan<float>().ToArray();      // [N, T, V+2]

        double maxDiff = MaxDifference(torchLogits, ortLogits, sequences.Length * width);
        TestContext.Out.WriteLine($"decoder, whole sequences: max |ORT − torch| = {maxDiff:E3} over {sequences.Length}×{width} positions");
        Assert.That(maxDiff, Is.LessThanOrEqualTo(LogitTolerance));
    }

    [Test]
    public void Every_Step_Of_A_Cached_Decode_Matches_TorchSharp_Within_1e4()
    {
        var (sequences, width) = SampledSequences(64, seed: 32);
        int prompt = PromptWidth(sequences);
        int rows = sequences.Length, layers = Policy.Layers;
        using var session = new InferenceSession(_model.OnnxPath);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Policy.eval();
        using var cache = new KvCache(layers, rows, Policy.Heads, width, Policy.DModel / Policy.Heads);
        var all = tensor(sequences.SelectMany(s => s).ToArray(), [rows, width]);
        var positions = DecoderPolicy.PositionsOf(all.ne(K[Policy.Special.Pad]));

        // Prefill: the prompt block; then one column per step, each fed the cached keys and values of the last.
        var torchStep = Policy.Prefill(all.narrow(1, 0, prompt), cache);
        var ortOutputs = RunOrt(session, Columns(sequences, 0, prompt), prompt, past: null, pastLength: 0, maskWidth: prompt, sequences);
        double maxDiff = 0;
        int steps = 0, liveSteps = 0;
        for (int column = prompt; ; column++)
        {
            // A row fed PAD has ended: its logits are never read, and torch's step lets that PAD query see the real
            // keys where the graph (like torch's full forward) lets it see itself too. Compare the live rows.
            var live = sequences.Select(s => s[column - 1] != Policy.Special.Pad).ToArray();
            var ortLast = LastColumn(ortOutputs[0].GetTensorDataAsSpan<float>(), rows, column == prompt ? prompt : 1);
            maxDiff = Math.Max(maxDiff, MaxDifference(torchStep.data<float>().ToArray(), ortLast, rows, live));
            if (column > prompt) liveSteps += live.Count(l => l);
            steps++;
            if (column == width) break;
            var past = ortOutputs.Skip(1).Select(v => (v.GetTensorDataAsSpan<float>().ToArray(), v.GetTensorTypeAndShape().Shape)).ToArray();
            ortOutputs.Dispose();
            torchStep = Policy.Step(all.select(1, column), positions.select(1, column), cache);
            ortOutputs = RunOrt(session, Columns(sequences, column, 1), 1, past, pastLength: column, maskWidth: column + 1, sequences);
        }
        ortOutputs.Dispose();
        TestContext.Out.WriteLine($"decoder, {steps} cached steps of {rows} rows ({liveSteps} live row-steps after the prefill): max |ORT − torch| = {maxDiff:E3}");
        Assert.That(liveSteps, Is.GreaterThan(rows), "responses of several tokens are compared");
        Assert.That(maxDiff, Is.LessThanOrEqualTo(LogitTolerance));
    }

    [Test]
    public void Greedy_Decodes_Of_The_Inference_Library_Equal_TorchSharp_On_1000_Held_Out_Prompts()
    {
        var task = new SortTask(Config.Task);
        var prompts = task.HeldOutPrompts();
        Assert.That(prompts, Has.Count.EqualTo(1000));
        Assert.That(prompts.Select(p => p.Length).Distinct().Count(), Is.EqualTo(6), "every length 3..8");

        var torchResponses = new TokenRows(prompts.Count, Config.Task.MaxResponseLength, Config.Task.Special.Pad);
        using (var scope = NewDisposeScope())
            ResponseDecoder.Decode(Policy, TokenRows.From(prompts, Config.Task.Special.Pad), 1, Config.Task.MaxResponseLength, 1.0, generator: null, torchResponses);

        using var policy = OnnxPolicy.Load(_model.OnnxPath);
        var ortResponses = policy.RespondBatch(prompts);
        var mismatches = Enumerable.Range(0, prompts.Count).Where(i => !ortResponses[i].SequenceEqual(torchResponses[i].ToArray())).ToList();
        TestContext.Out.WriteLine($"decoder greedy: {prompts.Count - mismatches.Count}/{prompts.Count} identical, " +
            $"{ortResponses.Count(r => policy.Contract.IsTruncated(r))} truncated, exact {ortResponses.Where((r, i) => SortingRewards.Exact(prompts[i], r) == 1).Count()}");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(policy.Contract.Version, Is.EqualTo(OnnxContract.DecoderVersion));
            Assert.That(policy.Contract.Prompts, Is.EqualTo(new PromptRules(3, 8, 12)));
            Assert.That(ortResponses.Select(r => r.Length).Distinct().Count(), Is.GreaterThanOrEqualTo(4),
                "the decoder has learned to end its responses at different lengths, so the loop's stopping is compared too");
            Assert.That(mismatches, Is.Empty, mismatches.Count == 0 ? "" :
                $"first: [{string.Join(",", prompts[mismatches[0]])}] torch [{string.Join(",", torchResponses[mismatches[0]].ToArray())}] ORT [{string.Join(",", ortResponses[mismatches[0]])}]");
        }
    }

    [Test]
    public void The_Decoder_Model_Carries_Its_Contract_Lengths_Special_Tokens_And_Sizes()
    {
        using var policy = OnnxPolicy.Load(_model.OnnxPath);
        var meta = policy.Contract.Metadata;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(meta[OnnxContract.Metadata.Contract], Is.EqualTo("decoder/1"));
            Assert.That(meta[OnnxContract.Metadata.Policy], Is.EqualTo("decoder"));
            Assert.That(meta[OnnxContract.Metadata.VocabSize], Is.EqualTo("12"));
            Assert.That(meta[OnnxContract.Metadata.MinLength], Is.EqualTo("3"));
            Assert.That(meta[OnnxContract.Metadata.MaxLength], Is.EqualTo("8"));
            Assert.That((meta[OnnxContract.Metadata.SepToken], meta[OnnxContract.Metadata.EosToken], meta[OnnxContract.Metadata.PadToken]), Is.EqualTo(("12", "13", "14")));
            Assert.That((meta[OnnxContract.Metadata.Layers], meta[OnnxContract.Metadata.Heads], meta[OnnxContract.Metadata.HeadDim]), Is.EqualTo(("2", "4", "8")));
            Assert.That(meta[OnnxContract.Metadata.Run], Is.EqualTo("decoder-parity"));
            Assert.That(meta[OnnxContract.Metadata.Epoch], Is.EqualTo("150"));
            Assert.That(TrainConfig.Parse(meta[OnnxContract.Metadata.Config], "grpo.config").ToJson(), Is.EqualTo(Config.ToJson()));
            Assert.That(meta.ContainsKey(OnnxContract.Metadata.TaskOptions), Is.True);
        }
    }

    /// <summary>
    /// <paramref name="count"/> held-out prompts with one sampled response each (EOS included), as left-padded rows
    /// [PAD … prompt SEP response PAD …] of one width: prompts of every length, responses of different lengths.
    /// </summary>
    static (long[][] Sequences, int Width) SampledSequences(int count, ulong seed)
    {
        var prompts = new SortTask(Config.Task).HeldOutPrompts(count, seed);
        using var scope = NewDisposeScope();
        using var generator = new Generator(seed);
        var decoded = ResponseDecoder.Decode(Policy, TokenRows.From(prompts, Config.Task.Special.Pad), 1, Config.Task.MaxResponseLength, 1.0, generator);
        var block = cat([decoded.PromptBlock, decoded.Tokens], 1);
        int width = (int)block.shape[1];
        var flat = block.data<long>().ToArray();
        return (Enumerable.Range(0, prompts.Count).Select(i => flat.AsSpan(i * width, width).ToArray()).ToArray(), width);
    }

    static int PromptWidth(long[][] sequences) => Array.IndexOf(sequences[0], Policy.Special.Sep) + 1;

    static long[][] Columns(long[][] sequences, int start, int count) => sequences.Select(s => s.AsSpan(start, count).ToArray()).ToArray();

    static float[] TorchLogits(long[][] sequences, int width)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Policy.eval();
        return Policy.forward(tensor(sequences.SelectMany(s => s).ToArray(), [sequences.Length, width])).data<float>().ToArray();
    }

    /// <summary>
    /// One ORT run over the columns <paramref name="columns"/> with <paramref name="pastLength"/> cached ones: the
    /// attention mask and positions come from the whole <paramref name="sequences"/> (or the columns themselves).
    /// </summary>
    static IDisposableReadOnlyCollection<OrtValue> RunOrt(InferenceSession session, long[][] columns, int width,
        (float[] Data, long[] Shape)[]? past, int pastLength, int maskWidth = -1, long[][]? sequences = null)
    {
        sequences ??= columns;
        if (maskWidth < 0) maskWidth = width;
        int rows = columns.Length, layers = Policy.Layers, heads = Policy.Heads, headDim = Policy.DModel / heads;
        long pad = Policy.Special.Pad;
        var mask = sequences.SelectMany(s => s.Take(maskWidth).Select(t => t == pad ? 0L : 1L)).ToArray();
        var positions = sequences.SelectMany(s =>
        {
            long seen = 0;   // as DecoderPolicy.PositionsOf: real tokens so far − 1, at least 0
            var all = s.Take(maskWidth).Select(t => Math.Max(0, (seen += t == pad ? 0 : 1) - 1)).ToArray();
            return all.Skip(maskWidth - width);
        }).ToArray();
        var inputs = new List<OrtValue>
        {
            OrtValue.CreateTensorValueFromMemory(columns.SelectMany(c => c).ToArray(), [rows, width]),
            OrtValue.CreateTensorValueFromMemory(mask, [rows, maskWidth]),
            OrtValue.CreateTensorValueFromMemory(positions, [rows, width]),
        };
        for (int i = 0; i < 2 * layers; i++)
            inputs.Add(past is null
                ? OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), [rows, heads, 0, headDim])
                : OrtValue.CreateTensorValueFromMemory(past[i].Data, past[i].Shape));
        try
        {
            var contract = OnnxContract.Decoder(layers);
            return session.Run(new Microsoft.ML.OnnxRuntime.RunOptions(), contract.Inputs.Select(i => i.Name).ToArray(), inputs, contract.Outputs.Select(o => o.Name).ToArray());
        }
        finally
        {
            foreach (var input in inputs) input.Dispose();
        }
    }

    static float[] LastColumn(ReadOnlySpan<float> logits, int rows, int sequence)
    {
        int outputs = Policy.Vocab + 2;
        var last = new float[rows * outputs];
        for (int b = 0; b < rows; b++) logits.Slice((b * sequence + sequence - 1) * outputs, outputs).CopyTo(last.AsSpan(b * outputs));
        return last;
    }

    /// <summary>
    /// max |ORT − torch| over <paramref name="positions"/> positions: both are indexed by token id (V+2: the values, SEP,
    /// EOS), and SEP's must be the large negative constant in both.
    /// </summary>
    static double MaxDifference(float[] torch, float[] ort, int positions, bool[]? compare = null)
    {
        int v = Policy.Vocab;
        Assert.That(torch, Has.Length.AtLeast(positions * (v + 2)), "premise: TorchSharp's logits are laid out by token id");
        double max = 0;
        for (int p = 0; p < positions; p++)
        {
            if (compare is not null && !compare[p]) continue;
            for (int id = 0; id < v + 2; id++) max = Math.Max(max, Math.Abs((double)torch[p * (v + 2) + id] - ort[p * (v + 2) + id]));
            Assert.That((torch[p * (v + 2) + v], ort[p * (v + 2) + v]), Is.EqualTo((-1e9f, -1e9f)), "SEP is never generated");
        }
        return max;
    }
}
