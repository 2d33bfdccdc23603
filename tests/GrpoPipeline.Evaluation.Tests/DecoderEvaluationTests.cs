using System.Text.Json;
using GrpoPipeline.Core;
using GrpoPipeline.Inference;
using GrpoPipeline.Tests;
using NUnit.Framework;

namespace GrpoPipeline.Evaluation.Tests;

/// <summary>
/// <see cref="PolicyEvaluator"/> on the fixture decoder (lengths 1..6, V=8), alone and on a leaderboard with a sorter
/// (L=4, V=6): held-out prompts from each model's split, CSV prompts of mixed lengths, the per-length report, progress,
/// cancellation and errors.
/// </summary>
[TestFixture]
public sealed class DecoderEvaluationTests
{
    [Test]
    public void Decoder_Metrics_Equal_Metrics_From_SortBatch_On_The_Same_Held_Out_Prompts()
    {
        var actual = PolicyEvaluator.Evaluate([Fixtures.Decoder], HeldOutSource.FromSplit(240, seed: 3), new EvaluatorOptions { PromptsPerRow = 32 }).Models.Single();

        using var policy = OnnxPolicy.Load(Fixtures.Decoder);
        var prompts = new SortTask(HeldOutSplit.FromMetadata(policy.Contract.Metadata, "decoder")).HeldOutPrompts(240, 3);
        var responses = policy.RespondBatch(prompts);
        var byLength = prompts.Select((p, i) => (p, r: responses[i])).GroupBy(x => x.p.Length).OrderBy(g => g.Key).ToList();

        Assert.That((actual.Contract, actual.MinLength, actual.MaxLength, actual.VocabSize), Is.EqualTo((OnnxContract.DecoderVersion, 1, 6, 8)));
        Assert.That(actual.Prompts, Is.EqualTo(prompts.Count));
        Assert.That(actual.ExactMatches, Is.EqualTo(prompts.Select((p, i) => SortingRewards.Exact(p, responses[i])).Sum()));
        Assert.That(actual.Rewards.Single(r => r.Name == "sortDistance").Mean, Is.EqualTo(prompts.Select((p, i) => SortingRewards.SortDistance(p, responses[i])).Average()).Within(1e-12));
        Assert.That(actual.Rewards.Single(r => r.Name == "inclusionOrdering").Mean, Is.EqualTo(prompts.Select((p, i) => SortingRewards.InclusionOrdering(p, responses[i])).Average()).Within(1e-12));
        Assert.That(actual.Truncated, Is.EqualTo(responses.Count(r => r.Length == 7)));
        Assert.That(actual.MeanResponseLength, Is.EqualTo(responses.Average(r => r.Length)).Within(1e-12));
        Assert.That(actual.ByLength.Select(l => (l.Length, l.Prompts, l.ExactMatches)),
            Is.EqualTo(byLength.Select(g => (g.Key, g.Count(), g.Sum(x => SortingRewards.Exact(x.p, x.r))))));
        Assert.That(actual.ByLength.Select(l => l.Length), Is.EqualTo(new[] { 1, 2, 3, 4, 5, 6 }), "every length is evaluated");
        Assert.That(actual.ExactMatch, Is.InRange(0.3, 0.8), "the fixture sorts about half its held-out prompts");
        Assert.That(actual.PromptSource, Does.Contain("lengths 1..6").And.Contain("up to 40 per length"));
    }

    [Test]
    public void A_Leaderboard_Mixes_A_Sorter_And_A_Decoder_Each_Scored_On_Its_Own_Lengths()
    {
        var report = PolicyEvaluator.Evaluate([TestModels.Trained, Fixtures.Decoder], HeldOutSource.FromSplit(300));
        var decoder = report.Models.Single(m => m.IsDecoder);
        var sorter = report.Models.Single(m => !m.IsDecoder);

        Assert.That((sorter.Contract, sorter.MinLength, sorter.MaxLength), Is.EqualTo((OnnxContract.Factorised.Version, 4, 4)));
        Assert.That(sorter.ByLength.Single().Length, Is.EqualTo(4));
        Assert.That(sorter.ByLength.Single().Prompts, Is.EqualTo(sorter.Prompts));
        Assert.That((sorter.Truncated, sorter.MeanResponseLength), Is.EqualTo((0, 4.0)));
        Assert.That(decoder.ByLength.Select(l => l.Length), Is.EqualTo(new[] { 1, 2, 3, 4, 5, 6 }));
        Assert.That(decoder.ByLength.Sum(l => l.Prompts), Is.EqualTo(decoder.Prompts));
        Assert.That(decoder.ByLength.Where(l => l.Length >= 4).Select(l => l.Prompts), Has.All.EqualTo(50), "300 spread over 6 lengths");
        Assert.That(report.Models.Select(m => m.Rank), Is.EqualTo(new[] { 1, 2 }));
        Assert.That(report.Models[0].ExactMatch, Is.GreaterThanOrEqualTo(report.Models[1].ExactMatch));

        var files = ReportWriter.Write(report, TestModels.NewPath("mixed"));
        using (var json = JsonDocument.Parse(File.ReadAllText(files.Json)))
        {
            var entry = json.RootElement.GetProperty("models").EnumerateArray().Single(m => m.GetProperty("contract").GetString() == OnnxContract.DecoderVersion);
            Assert.That((entry.GetProperty("minLength").GetInt32(), entry.GetProperty("maxLength").GetInt32()), Is.EqualTo((1, 6)));
            Assert.That(entry.GetProperty("byLength").GetArrayLength(), Is.EqualTo(6));
            Assert.That(entry.GetProperty("byLength")[5].GetProperty("exactMatchInterval").GetProperty("high").GetDouble(), Is.InRange(0.0, 1.0));
            foreach (var key in new[] { "truncated", "truncatedShare", "meanResponseLength", "trainingSplitPrompts" })
                Assert.That(entry.TryGetProperty(key, out _), Is.True, $"evaluation.json has '{key}'");
        }
        Assert.That(EvaluationReport.FromJson(File.ReadAllText(files.Json)).Models.Single(m => m.IsDecoder).ByLength, Is.EqualTo(decoder.ByLength));

        var markdown = File.ReadAllText(files.Markdown);
        Assert.That(markdown, Does.Contain("## Exact match per length"));
        Assert.That(markdown, Does.Contain("| decoder-l1to6v8.onnx | sort | 6 | 50 |").And.Contain("| seed-l4v6.onnx | sort | 4 |"));
        Assert.That(markdown, Does.Contain("| decoder/1 | 1..6 |").And.Contain("| factorised/1 | 4 |"));
        Assert.That(report.ByLengthMarkdown(decodersOnly: true), Does.Contain("decoder-l1to6v8.onnx").And.Not.Contain("seed-l4v6.onnx"));
        Assert.That(new FileInfo(files.Png).Length, Is.GreaterThan(10_000));
    }

    [Test]
    public void A_Csv_Of_Mixed_Lengths_Gives_Each_Model_The_Prompts_It_Takes_And_Lists_The_Rest()
    {
        using var policy = OnnxPolicy.Load(Fixtures.Decoder);
        var split = new SortTask(HeldOutSplit.FromMetadata(policy.Contract.Metadata, "decoder"));
        // Two prompts of the decoder's training split, found by walking prompts of length 5.
        var training = DecoderScorerTests.MixedPrompts(200, seed: 9).Where(p => p.Length == 5 && !split.IsHeldOut(p)).Take(2).ToList();
        Assert.That(training, Has.Count.EqualTo(2));
        var heldOut = new SortTask(HeldOutSplit.FromMetadata(policy.Contract.Metadata, "decoder")).HeldOutPrompts(12, 5);   // 2 per length
        var lines = heldOut.Concat(training).Select(p => string.Join(' ', p))
            .Concat(["1 2 3 4 5 6 7", "0 8 1", "5 4 3 2"]).ToList();   // too long for both; token 8 out of range for both; a length-4 prompt
        var path = TestModels.WriteFile("mixed-lengths.csv", "prompt\n" + string.Join('\n', lines) + "\n");

        var report = PolicyEvaluator.Evaluate([Fixtures.Decoder, TestModels.Trained], HeldOutSource.FromCsv(path));
        var decoder = report.Models.Single(m => m.IsDecoder);
        var sorter = report.Models.Single(m => !m.IsDecoder);

        // Two per length, but length 1 holds out fewer (8 prompts, ~10% held out); plus the two training prompts (length 5) and "5 4 3 2".
        var expected = Enumerable.Range(1, 6).Select(n => (n, heldOut.Count(p => p.Length == n) + (n == 5 ? 2 : n == 4 ? 1 : 0))).Where(x => x.Item2 > 0);
        Assert.That(decoder.ByLength.Select(l => (l.Length, l.Prompts)), Is.EqualTo(expected));
        Assert.That(decoder.Prompts, Is.EqualTo(heldOut.Count + 3));
        int trainingPrompts = 2 + (split.IsHeldOut([5, 4, 3, 2]) ? 0 : 1);
        Assert.That(decoder.TrainingSplitPrompts, Is.EqualTo(trainingPrompts), "training prompts are counted, not refused");
        Assert.That(decoder.Invalid.Select(p => p.Reason), Has.Exactly(1).Contains("length 7").And.Contains("1..6"));
        Assert.That(decoder.Invalid.Select(p => p.Reason), Has.Exactly(1).Contains("token at index 1 is 8").And.Contains("0..7"));

        int fours = heldOut.Count(p => p.Length == 4) + 1;
        Assert.That(sorter.Prompts, Is.EqualTo(fours - heldOut.Count(p => p.Length == 4 && p.Any(t => t >= 6))), "the sorter takes the length-4 prompts with tokens 0..5");
        Assert.That(sorter.InvalidPrompts, Is.EqualTo(lines.Count - sorter.Prompts));
        Assert.That(sorter.Invalid.Select(p => p.Reason).Where(r => r.Contains("length")), Is.Not.Empty.And.All.Contains("length 4"));
        Assert.That(report.ToMarkdown(), Does.Contain($"{trainingPrompts} of the {decoder.Prompts} prompts scored for decoder-l1to6v8.onnx are in its training split"));
    }

    [Test]
    public void A_Csv_With_No_Prompt_Of_The_Decoders_Lengths_Fails_Naming_Them()
    {
        var path = TestModels.WriteFile("too-long.csv", "prompt\n1 2 3 4 5 6 7\n0 0 0 0 0 0 0 0\n");
        Assert.That(() => PolicyEvaluator.Evaluate([Fixtures.Decoder], HeldOutSource.FromCsv(path)),
            Throws.TypeOf<EvaluationException>().With.Message.Contains("none of the 2 prompts").And.Message.Contains("lengths 1..6, V=8")
                .And.Message.Contains("line 2").And.Message.Contains("length 7"));
    }

    [Test]
    public void A_Decoder_Split_That_Disagrees_With_Its_Lengths_Is_A_Contract_Mismatch()
    {
        // The decoder takes lengths 1..6; its split metadata is edited to claim 2..6 (a same-length edit of the JSON).
        var text = System.Text.Encoding.Latin1.GetString(File.ReadAllBytes(Fixtures.Decoder));
        const string min1 = "\"minLength\": 1";
        Assert.That(text, Does.Contain(min1), "the split metadata spells the shortest length this way");
        var path = TestModels.NewPath("split-2to6.onnx");
        File.WriteAllBytes(path, System.Text.Encoding.Latin1.GetBytes(text.Replace(min1, "\"minLength\": 2")));
        Assert.That(() => PolicyEvaluator.Evaluate([path], HeldOutSource.FromSplit(10)),
            Throws.TypeOf<OnnxContractException>().With.Message.Contains(path)
                .And.Message.Contains("expected its task 'sort' to take the prompts its input takes (lengths 1..6, V=8, variable length)").And.Message.Contains("found lengths 2..6, V=8"));
    }

    [Test]
    public void Progress_Is_Reported_After_Each_Batch_Of_Decoded_Prompts()
    {
        var reports = new List<EvaluationProgress>();
        var recorder = new SyncProgress(reports.Add);
        var report = PolicyEvaluator.Evaluate([Fixtures.Decoder], HeldOutSource.FromSplit(60), new EvaluatorOptions { PromptsPerRow = 16 }, recorder);
        int total = report.Models.Single().Prompts;
        var expected = Enumerable.Range(0, (total + 15) / 16).Select(i => i * 16).Append(total).ToArray();
        Assert.That(reports.Select(r => r.PromptsScored), Is.EqualTo(expected), "once at the start, then after each batch of 16");
        Assert.That(reports.Select(r => r.Prompts), Has.All.EqualTo(total));
    }

    [Test]
    public void Cancelling_Stops_A_Decoder_Between_Batches()
    {
        using var cancel = new CancellationTokenSource();
        var reports = new List<EvaluationProgress>();
        var recorder = new SyncProgress(r => { reports.Add(r); if (r.PromptsScored >= 16) cancel.Cancel(); });
        Assert.That(() => PolicyEvaluator.Evaluate([Fixtures.Decoder, TestModels.Trained], HeldOutSource.FromSplit(60),
                new EvaluatorOptions { PromptsPerRow = 16 }, recorder, cancel.Token),
            Throws.InstanceOf<OperationCanceledException>());
        Assert.That(reports.Max(r => r.PromptsScored), Is.EqualTo(16), "no batch after the one that cancelled");
        Assert.That(reports.Select(r => r.Model), Has.All.EqualTo(1), "the second model never started");
    }

    /// <summary>Reports synchronously (<see cref="Progress{T}"/> would post them to the thread pool).</summary>
    sealed class SyncProgress(Action<EvaluationProgress> report) : IProgress<EvaluationProgress>
    {
        public void Report(EvaluationProgress value) => report(value);
    }
}
