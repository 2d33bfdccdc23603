using GrpoPipeline.Core;
using GrpoPipeline.Training.Policies;
using NUnit.Framework;
using static GrpoPipeline.Training.Tests.TestScalars;
using static TorchSharp.torch;

namespace GrpoPipeline.Training.Tests.Decoding;

/// <summary>
/// <c>policy.positions</c>: the decoder's position indices, by hand for both origins, and a decoder that counts from SEP
/// still decodes with its cache what a full recomputation computes, shares the prompt forward, and ignores padding.
/// </summary>
[TestFixture, NonParallelizable]   // torch's global generator seeds the weights
public sealed class DecoderPositionsTests
{
    const int V = 10, MaxLength = 6;   // SEP = 10, EOS = 11, PAD = 12
    const long S = V, E = V + 1, P = V + 2;
    DecoderPolicy _fromStart = null!, _fromSep = null!, _mirrored = null!;

    [OneTimeSetUp]
    public void Build()
    {
        manual_seed(11);
        _fromStart = new DecoderPolicy(V, MaxLength, dModel: 32, heads: 4, layers: 2, mlpDim: 64, dropout: 0);
        manual_seed(11);
        _fromSep = new DecoderPolicy(V, MaxLength, dModel: 32, heads: 4, layers: 2, mlpDim: 64, dropout: 0, DecoderPositions.FromSep);
        using (no_grad())
            foreach (var p in _fromSep.parameters()) p.add_(randn_like(p) * K[0.3], Scalars.One);   // logits that differ by position
        _fromSep.eval();
        manual_seed(11);
        _mirrored = new DecoderPolicy(V, MaxLength, dModel: 32, heads: 4, layers: 2, mlpDim: 64, dropout: 0, DecoderPositions.Mirrored);
        using (no_grad())
            foreach (var p in _mirrored.parameters()) p.add_(randn_like(p) * K[0.3], Scalars.One);
        _mirrored.eval();
    }

    DecoderPolicy Of(DecoderPositions positions) => positions == DecoderPositions.FromSep ? _fromSep : _mirrored;

    [OneTimeTearDown]
    public void Dispose()
    {
        _fromStart.Dispose();
        _fromSep.Dispose();
        _mirrored.Dispose();
    }

    static TokenRows Prompts(params long[][] prompts) => TokenRows.From(prompts, padding: P);

    [Test]
    public void Position_Ids_By_Hand()
    {
        using var scope = NewDisposeScope();
        // [3, 1, 4] answered 2, 7 and [9, 2, 6, 5, 3] answered 0, EOS, left-padded to one SEP column (5).
        var tokens = tensor(new long[] { P, P, 3, 1, 4, S, 2, 7,
                                         9, 2, 6, 5, 3, S, 0, E }, [2, 8]);
        // From the prompt start: 0 at the first real token (PADs clamp to 0), SEP at n.
        Assert.That(_fromStart.PositionIds(tokens).data<long>().ToArray(),
            Is.EqualTo(new long[] { 0, 0, 0, 1, 2, 3, 4, 5,
                                    0, 1, 2, 3, 4, 5, 6, 7 }));
        // From SEP: shifted by maxLength − n (6 − 3 = 3, 6 − 5 = 1), so SEP is at 6 in both rows.
        Assert.That(_fromSep.PositionIds(tokens).data<long>().ToArray(),
            Is.EqualTo(new long[] { 3, 3, 3, 4, 5, 6, 7, 8,
                                    1, 2, 3, 4, 5, 6, 7, 8 }));
        var block = tokens.narrow(1, 0, 6);
        Assert.That(_fromStart.FirstResponsePositions(block).data<long>().ToArray(), Is.EqualTo(new long[] { 4, 6 }));
        Assert.That(_fromSep.FirstResponsePositions(block).data<long>().ToArray(), Is.EqualTo(new long[] { 7, 7 }));
        // Mirrored: the ids of from-SEP, folded: before SEP row 5 − id, from SEP on row id − 6 plus the side row 13.
        Assert.That(_mirrored.PositionIds(tokens).data<long>().ToArray(), Is.EqualTo(_fromSep.PositionIds(tokens).data<long>().ToArray()));
        using (no_grad())
        {
            var table = _mirrored.PositionEmbedding;
            var expected = stack(new[] { table[2], table[2], table[1], table[0], table[0].add(table[13], Scalars.One), table[1].add(table[13], Scalars.One), table[2].add(table[13], Scalars.One) });
            var got = _mirrored.PositionVectors(tensor(new long[] { 3, 3, 4, 5, 6, 7, 8 }));
            Assert.That((got - expected).abs().max().item<float>(), Is.EqualTo(0f));
            // From SEP and from the start read the table as it is.
            Assert.That((_fromSep.PositionVectors(tensor(new long[] { 3, 8 })) - stack(new[] { _fromSep.PositionEmbedding[3], _fromSep.PositionEmbedding[8] })).abs().max().item<float>(), Is.EqualTo(0f));
        }
        // The longest response, maxLength + 1 tokens, is read up to its last input at 2·maxLength + 1, the last embedding.
        Assert.That(_fromSep.Positions, Is.EqualTo(2 * MaxLength + 2));
    }

    [TestCase(DecoderPositions.FromSep), TestCase(DecoderPositions.Mirrored)]
    public void Cached_Steps_Give_The_Logits_Of_A_Full_Recomputation(DecoderPositions origin)
    {
        var policy = Of(origin);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var block = ResponseDecoder.PromptBlock(Prompts([3, 1, 4, 1, 5], [9, 2], [6]), policy.Special);   // [3, 6]
        var continuation = tensor(new long[] { 2, 7, E, 0, 0, 5, 8, 1, E }, [3, 3]);
        using var cache = new KvCache(2, 3, 4, block.shape[1] + 3, 8);
        var stepLogits = new List<Tensor> { policy.Prefill(block, cache) };
        var positions = policy.FirstResponsePositions(block);
        for (int t = 0; t < 3; t++)
        {
            stepLogits.Add(policy.Step(continuation.select(1, t), positions, cache));
            positions = positions.add(Scalars.One, Scalars.One);
        }
        var full = policy.forward(cat([block, continuation], 1));
        double worst = 0;
        for (int t = 0; t < stepLogits.Count; t++)
            worst = Math.Max(worst, (stepLogits[t] - full.select(1, block.shape[1] - 1 + t)).abs().max().item<float>());
        Assert.That(worst, Is.LessThanOrEqualTo(1e-5));

        var prompts = Prompts([3, 1, 4, 1, 5, 9], [2, 6], [5], [8, 8, 0]);
        var cached = ResponseDecoder.Decode(policy, prompts, 1, MaxLength + 1, 1.0, null, useCache: true);
        var recomputed = ResponseDecoder.Decode(policy, prompts, 1, MaxLength + 1, 1.0, null, useCache: false);
        Assert.That(cached.Tokens.data<long>().ToArray(), Is.EqualTo(recomputed.Tokens.data<long>().ToArray()));
    }

    [TestCase(DecoderPositions.FromSep), TestCase(DecoderPositions.Mirrored)]
    public void Shared_Prompt_Forward_Equals_The_Whole_Sequences_And_Left_Padding_Changes_Nothing(DecoderPositions origin)
    {
        var policy = Of(origin);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var prompts = Prompts([3, 1, 4, 1], [9, 2, 6], [5]);
        using var generator = new Generator(8);
        var decoded = ResponseDecoder.Decode(policy, prompts, 4, MaxLength + 1, 1.0, generator);
        var block = ResponseDecoder.PromptBlock(prompts, policy.Special);
        var shared = policy.ForwardResponses(block, 4, decoded.Tokens.narrow(1, 0, decoded.Steps - 1));
        var whole = policy.forward(decoded.Inputs()).narrow(1, block.shape[1] - 1, decoded.Steps);
        Assert.That((shared - whole).abs().max().item<float>(), Is.LessThanOrEqualTo(1e-5));

        // [4, 2, 7] alone and next to a prompt of six: three PADs in front change no logit of its response.
        long[] response = [2, 4, 7];
        Tensor Logits(TokenRows rows)
        {
            var b = ResponseDecoder.PromptBlock(rows, policy.Special).narrow(0, 0, 1);
            return policy.forward(cat([b, tensor(response, [1, 3])], 1)).narrow(1, b.shape[1] - 1, 4);
        }
        Assert.That((Logits(Prompts([4, 2, 7])) - Logits(Prompts([4, 2, 7], [1, 1, 1, 1, 1, 1]))).abs().max().item<float>(), Is.LessThanOrEqualTo(1e-5));
    }

    [Test]
    public void The_Default_Is_Written_Nowhere_And_From_Sep_Round_Trips_And_Is_A_Decoder_Option()
    {
        Assert.That(new TrainConfig().ToJson(), Does.Not.Contain("positions"), "configs and checkpoints of default policies read as before");
        var json = """{"task": {"kind": "variable"}, "policy": {"kind": "decoder", "positions": "from_sep"}}""";
        var config = TrainConfig.Parse(json);
        Assert.That(config.Policy.Positions, Is.EqualTo(DecoderPositions.FromSep));
        Assert.That(TrainConfig.Parse(config.ToJson()).Policy.Positions, Is.EqualTo(DecoderPositions.FromSep));
        Assert.That(() => TrainConfig.Parse("""{"policy": {"kind": "seed", "positions": "from_sep"}}"""),
            Throws.TypeOf<ConfigException>().With.Message.Contains("policy.positions"));
    }
}
