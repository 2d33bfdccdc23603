using GrpoPipeline.Core;
using GrpoPipeline.Inference;
using GrpoPipeline.Tests;
using Microsoft.ML;
using Microsoft.ML.Data;
using NUnit.Framework;

namespace GrpoPipeline.Evaluation.Tests;

/// <summary>
/// <see cref="DecoderTransformer"/> and <see cref="DecoderScorer"/> on the fixture decoder (lengths 1..6, V=8): the
/// responses are the ones <see cref="OnnxPolicy.RespondBatch(IReadOnlyList{long[]})"/> gives, decoded K prompts per call.
/// </summary>
[TestFixture]
public sealed class DecoderScorerTests
{
    const int Vocab = 8, MaxLength = 6;

    /// <summary>Prompts of every length 1..6 in a shuffled order, so neighbours in a batch differ in length.</summary>
    internal static List<long[]> MixedPrompts(int count, ulong seed)
    {
        var rng = new Rng(seed);
        return Enumerable.Range(0, count).Select(_ =>
        {
            var prompt = new long[1 + rng.NextInt(MaxLength)];
            for (int i = 0; i < prompt.Length; i++) prompt[i] = rng.NextInt(Vocab);
            return prompt;
        }).ToList();
    }

    [TestCase(1)]
    [TestCase(7)]
    [TestCase(1000)]
    public void Scorer_Responses_Equal_SortBatch_Responses(int promptsPerBatch)
    {
        var prompts = MixedPrompts(150, seed: 3);
        using var policy = OnnxPolicy.Load(Fixtures.Decoder);
        using var scorer = new DecoderScorer(Fixtures.Decoder, promptsPerBatch);
        var responses = scorer.Responses(prompts);
        Assert.That(responses, Is.EqualTo(policy.RespondBatch(prompts)));
        Assert.That(responses.Select(r => r.Length).Distinct().Count(), Is.GreaterThan(3), "responses of many lengths, truncated ones included");
    }

    [Test]
    public void The_Transformer_Calls_SortBatch_Once_Per_K_Prompts()
    {
        using var policy = OnnxPolicy.Load(Fixtures.Decoder);
        var counting = new CountingPolicy(policy);
        using var scorer = new DecoderScorer(Fixtures.Decoder);
        var scored = new DecoderTransformer(counting, promptsPerBatch: 16).Transform(scorer.ToDataView(MixedPrompts(50, seed: 4)));
        using var cursor = scored.GetRowCursor(scored.Schema.Where(c => c.Name == DecoderColumns.Response));
        int rows = 0;
        while (cursor.MoveNext()) rows++;
        Assert.That(rows, Is.EqualTo(50));
        Assert.That(counting.Batches, Is.EqualTo(new[] { 16, 16, 16, 2 }));
    }

    [Test]
    public void Reading_Only_Input_Columns_Decodes_Nothing()
    {
        using var policy = OnnxPolicy.Load(Fixtures.Decoder);
        var counting = new CountingPolicy(policy);
        using var scorer = new DecoderScorer(Fixtures.Decoder);
        var scored = new DecoderTransformer(counting, 16).Transform(scorer.ToDataView(MixedPrompts(20, seed: 4)));
        using var cursor = scored.GetRowCursor([scored.Schema[DecoderColumns.Prompt]]);
        int rows = 0;
        while (cursor.MoveNext()) rows++;
        Assert.That(rows, Is.EqualTo(20), "premise: every row was read");
        Assert.That(counting.Batches, Is.Empty);
    }

    [Test]
    public void The_Transformer_Passes_The_Prompt_Through_And_Adds_Response_And_Reward_Columns()
    {
        var prompts = MixedPrompts(40, seed: 5);
        using var policy = OnnxPolicy.Load(Fixtures.Decoder);
        using var scorer = new DecoderScorer(Fixtures.Decoder, promptsPerBatch: 9);
        var scored = scorer.Transformer.Transform(scorer.ToDataView(prompts));
        Assert.That(scored.Schema.Select(c => c.Name), Is.EqualTo(new[]
        {
            DecoderColumns.Prompt, DecoderColumns.Response, DecoderColumns.ResponseLength, DecoderColumns.Truncated,
            DecoderColumns.Exact, DecoderColumns.Reward("inclusionOrdering"), DecoderColumns.Reward("sortDistance"), DecoderColumns.Reward("exact"),
        }), "the sorting task's components, by name");

        var rows = new MLContext().Data.CreateEnumerable<ScoredRow>(scored, reuseRowObject: false).ToList();
        var expected = policy.RespondBatch(prompts);
        Assert.That(rows.Select(r => r.Prompts), Is.EqualTo(prompts));
        Assert.That(rows.Select(r => r.Response), Is.EqualTo(expected));
        Assert.That(rows.Select(r => r.ResponseLength), Is.EqualTo(expected.Select(r => r.Length)));
        Assert.That(rows.Select(r => r.Truncated), Is.EqualTo(expected.Select(r => r.Length == MaxLength + 1)));
        Assert.That(rows.Select(r => r.Exact), Is.EqualTo(prompts.Select((p, i) => SortingRewards.Exact(p, expected[i]) == 1)));
        Assert.That(rows.Select(r => r.SortDistance), Is.EqualTo(prompts.Select((p, i) => SortingRewards.SortDistance(p, expected[i]))));
        Assert.That(rows.Select(r => r.InclusionOrdering), Is.EqualTo(prompts.Select((p, i) => (double)SortingRewards.InclusionOrdering(p, expected[i]))));
        Assert.That(rows.Count(r => r.Exact), Is.InRange(1, 39), "some exact, some not: the columns are not constant");
    }

    [Test]
    public void A_Sorter_Is_Refused_With_Its_Contract()
    {
        using var sorter = OnnxPolicy.Load(TestModels.Trained);
        Assert.That(() => new DecoderTransformer(sorter, 8), Throws.ArgumentException.With.Message.Contains("factorised/1").And.Message.Contains("decoder/1"));
        Assert.That(() => new DecoderScorer(TestModels.Trained), Throws.ArgumentException.With.Message.Contains("factorised/1"));
    }

    [Test]
    public void A_Prompt_The_Decoder_Does_Not_Take_Is_Refused_Naming_It()
    {
        using var scorer = new DecoderScorer(Fixtures.Decoder);
        List<long[]> prompts = [[1, 2], [1, 2, 3, 4, 5, 6, 7], [3]];
        Assert.That(() => scorer.Responses(prompts), Throws.ArgumentException.With.Message.Contains("prompt 1").And.Message.Contains("1..6"));
        // Straight through the transformer: RespondBatch's message, with the rows of the batch.
        var scored = scorer.Transformer.Transform(scorer.ToDataView(prompts));
        Assert.That(() => new MLContext().Data.CreateEnumerable<ScoredRow>(scored, false).ToList(),
            Throws.ArgumentException.With.Message.Contains("rows 0..2").And.Message.Contains("length 7"));
    }

    sealed class ScoredRow
    {
        [ColumnName(DecoderColumns.Prompt)] public long[] Prompts { get; set; } = [];
        [ColumnName(DecoderColumns.Response)] public long[] Response { get; set; } = [];
        [ColumnName(DecoderColumns.ResponseLength)] public int ResponseLength { get; set; }
        [ColumnName(DecoderColumns.Truncated)] public bool Truncated { get; set; }
        [ColumnName(DecoderColumns.Exact)] public bool Exact { get; set; }
        [ColumnName("reward.sortDistance")] public double SortDistance { get; set; }
        [ColumnName("reward.inclusionOrdering")] public double InclusionOrdering { get; set; }
    }

    /// <summary>A policy that records the size of every RespondBatch call and forwards it.</summary>
    sealed class CountingPolicy(IPolicy inner) : IPolicy
    {
        public List<int> Batches { get; } = [];
        public PolicyContract Contract => inner.Contract;
        public long[] Respond(ReadOnlySpan<long> prompt) => inner.Respond(prompt);
        public long[][] RespondBatch(IReadOnlyList<long[]> prompts)
        {
            Batches.Add(prompts.Count);
            return inner.RespondBatch(prompts);
        }
        public long[][] Sample(ReadOnlySpan<long> prompt, int n, double temperature = 1, ulong seed = 0) => inner.Sample(prompt, n, temperature, seed);
        public RewardScore? Score(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response) => inner.Score(prompt, response);
    }
}
