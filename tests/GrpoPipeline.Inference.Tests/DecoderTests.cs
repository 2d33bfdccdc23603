using GrpoPipeline.Core;
using GrpoPipeline.Tests;
using Microsoft.ML.OnnxRuntime;
using NUnit.Framework;

namespace GrpoPipeline.Inference.Tests;

/// <summary>
/// <see cref="OnnxPolicy"/> on a <c>decoder/1</c> model (the fixture decoder, lengths 1..6, V=8): prompts of any
/// allowed length, batches of mixed lengths decoded in one loop with the KV cache, sampling, scores and errors.
/// </summary>
[TestFixture]
public sealed class DecoderTests
{
    const int Vocab = 8, MinLength = 1, MaxLength = 6;
    static OnnxPolicy _policy = null!;

    [OneTimeSetUp]
    public void Load() => _policy = OnnxPolicy.Load(Fixtures.Decoder);

    [OneTimeTearDown]
    public void Release() => _policy?.Dispose();

    /// <summary>Prompts of every length 1..6 in a shuffled order, so neighbours in a batch differ in length.</summary>
    static long[][] MixedPrompts(int count, ulong seed)
    {
        var rng = new Rng(seed);
        return Enumerable.Range(0, count).Select(_ =>
        {
            var prompt = new long[MinLength + rng.NextInt(MaxLength - MinLength + 1)];
            for (int i = 0; i < prompt.Length; i++) prompt[i] = rng.NextInt(Vocab);
            return prompt;
        }).ToArray();
    }

    [Test]
    public void Load_Reports_The_Decoder_Contract_Its_Lengths_And_Special_Tokens()
    {
        var contract = _policy.Contract;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(contract.Version, Is.EqualTo(OnnxContract.DecoderVersion));
            Assert.That(contract.IsDecoder, Is.True);
            Assert.That(contract.PolicyKind, Is.EqualTo("decoder"));
            Assert.That(contract.Prompts, Is.EqualTo(new PromptRules(MinLength, MaxLength, Vocab)));
            Assert.That(contract.Special, Is.EqualTo(new SpecialTokens(8, 9, 10)));
            Assert.That(contract.MaxResponseLength, Is.EqualTo(MaxLength + 1));
            Assert.That(contract.Spec.Inputs.Select(i => i.Name), Is.EqualTo(new[]
            {
                "input_ids", "attention_mask", "position_ids",
                "past_key_values.0.key", "past_key_values.0.value", "past_key_values.1.key", "past_key_values.1.value",
            }));
            Assert.That(contract.Sizes[OnnxContract.HeadsDim], Is.EqualTo(4));
            Assert.That(contract.Sizes[OnnxContract.HeadDim], Is.EqualTo(8));
        }
    }

    [Test]
    public void Sort_Answers_Every_Length_With_Values_Only_And_Sorts_Most_Short_Prompts()
    {
        int exact = 0, total = 0;
        for (int length = MinLength; length <= MaxLength; length++)
            foreach (var prompt in Fixtures.RandomPrompts(20, length, Vocab, seed: (ulong)length))
            {
                var response = _policy.Respond(prompt);
                Assert.That(response, Has.All.InRange(0L, Vocab - 1L), "no SEP, EOS or PAD in a response");
                Assert.That(response, Has.Length.LessThanOrEqualTo(MaxLength + 1));
                if (length <= 3) { total++; exact += SortingRewards.Exact(prompt, response); }
            }
        TestContext.Out.WriteLine($"lengths 1..3: {exact}/{total} exact");
        Assert.That(exact, Is.GreaterThan(total / 2), "the fixture decoder sorts most short prompts");
    }

    [Test]
    public void A_Batch_Of_Mixed_Lengths_Gives_Each_Prompt_The_Response_It_Gets_Alone()
    {
        var prompts = MixedPrompts(300, seed: 5);
        var batch = _policy.RespondBatch(prompts);
        var alone = prompts.Select(p => _policy.Respond(p)).ToArray();
        Assert.That(batch, Is.EqualTo(alone), "left padding and lockstep decoding change no response");
        Assert.That(batch.Select(r => r.Length).Distinct().Count(), Is.GreaterThanOrEqualTo(4), "responses of several lengths");
    }

    // The prefill runs one padded batch, one batch per length, or groups of lengths between, by the batch's mix.
    [TestCase(2), TestCase(7), TestCase(16), TestCase(24), TestCase(40), TestCase(64)]
    public void Batches_Of_Every_Size_Give_Each_Prompt_The_Response_It_Gets_Alone(int size)
    {
        var prompts = MixedPrompts(size, seed: (ulong)(40 + size));
        Assert.That(prompts.Select(p => p.Length).Distinct().Count(), Is.GreaterThan(1), "premise: mixed lengths");
        Assert.That(_policy.RespondBatch(prompts), Is.EqualTo(prompts.Select(p => _policy.Respond(p)).ToArray()));
    }

    [Test]
    public void A_Batch_Larger_Than_One_Run_Is_Decoded_In_Chunks_With_The_Same_Responses()
    {
        var prompts = MixedPrompts(DecoderRunner.MaxRowsPerRun + 77, seed: 6);
        var whole = _policy.RespondBatch(prompts);
        var tail = _policy.RespondBatch(prompts[DecoderRunner.MaxRowsPerRun..]);
        Assert.That(whole, Has.Length.EqualTo(prompts.Length));
        Assert.That(whole[DecoderRunner.MaxRowsPerRun..], Is.EqualTo(tail));
    }

    [Test]
    public void The_Cached_Decode_Equals_Decoding_Without_The_Cache_Through_The_Raw_Session()
    {
        using var session = new InferenceSession(Fixtures.Decoder);
        foreach (var prompt in MixedPrompts(40, seed: 7))
            Assert.That(_policy.Respond(prompt), Is.EqualTo(DecodeWithoutCache(session, prompt)), $"prompt [{string.Join(",", prompt)}]");
    }

    /// <summary>
    /// The reference decode: every step runs the whole sequence [prompt SEP response…] with an empty past and takes
    /// the argmax of its last column, until EOS or maxLength + 1 tokens.
    /// </summary>
    static long[] DecodeWithoutCache(InferenceSession session, long[] prompt)
    {
        var names = OnnxContract.Decoder(2);
        var sequence = prompt.Append(Vocab).ToList();
        var response = new List<long>();
        while (response.Count < MaxLength + 1)
        {
            int t = sequence.Count;
            var inputs = new List<OrtValue>
            {
                OrtValue.CreateTensorValueFromMemory(sequence.ToArray(), [1, t]),
                OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, t).ToArray(), [1, t]),
                OrtValue.CreateTensorValueFromMemory(Enumerable.Range(0, t).Select(i => (long)i).ToArray(), [1, t]),
            };
            for (int i = 0; i < 4; i++) inputs.Add(OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), [1, 4, 0, 8]));
            using var outputs = session.Run(new RunOptions(), names.Inputs.Select(i => i.Name).ToArray(), inputs, [OnnxContract.LogitsOutput]);
            foreach (var input in inputs) input.Dispose();
            var last = outputs[0].GetTensorDataAsSpan<float>()[((t - 1) * (Vocab + 2))..];
            long token = 0;
            for (int id = 1; id < Vocab + 2; id++) if (last[id] > last[(int)token]) token = id;
            if (token == Vocab + 1) break;
            response.Add(token);
            sequence.Add(token);
        }
        return response.ToArray();
    }

    [Test]
    public void Sample_Is_Reproducible_By_Seed_And_Reports_Truncated_Responses()
    {
        long[] prompt = [5, 2, 7, 2];
        var a = _policy.Sample(prompt, 64, temperature: 3, seed: 11);
        var b = _policy.Sample(prompt, 64, temperature: 3, seed: 11);
        var c = _policy.Sample(prompt, 64, temperature: 3, seed: 12);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(a, Is.EqualTo(b), "the same seed gives the same responses");
            Assert.That(a, Is.Not.EqualTo(c), "another seed gives other responses");
            Assert.That(a, Has.Length.EqualTo(64).And.All.All.InRange(0L, Vocab - 1L));
            // At temperature 3 EOS is often passed over: some responses run to the cap, and only those are truncated.
            Assert.That(a.Count(r => _policy.Contract.IsTruncated(r)), Is.GreaterThan(0));
            Assert.That(a.Where(r => _policy.Contract.IsTruncated(r)), Has.All.Length.EqualTo(MaxLength + 1));
            Assert.That(a.Where(r => !_policy.Contract.IsTruncated(r)), Has.All.Length.LessThanOrEqualTo(MaxLength));
        }
    }

    [Test]
    public void Sampling_At_A_Low_Temperature_Gives_The_Greedy_Response()
    {
        foreach (var prompt in MixedPrompts(20, seed: 8))
            Assert.That(_policy.Sample(prompt, 3, temperature: 0.01, seed: 1), Has.All.EqualTo(_policy.Respond(prompt)));
    }

    [TestCase(new long[0], "prompt has length 0; this model takes prompts of length 1..6")]
    [TestCase(new long[] { 1, 2, 3, 4, 5, 6, 7 }, "prompt has length 7; this model takes prompts of length 1..6")]
    [TestCase(new long[] { 1, 8 }, "token at index 1 is 8; tokens must be in 0..7")]      // SEP is no prompt token
    [TestCase(new long[] { 9, 1 }, "token at index 0 is 9; tokens must be in 0..7")]      // nor is EOS
    [TestCase(new long[] { 1, 2, -1 }, "token at index 2 is -1; tokens must be in 0..7")]
    public void Bad_Prompts_Are_Refused_Naming_The_Length_Or_The_Index_And_Value(long[] prompt, string message)
    {
        Assert.That(() => _policy.Respond(prompt), Throws.ArgumentException.With.Message.StartsWith(message));
        Assert.That(() => _policy.RespondBatch([[1], prompt]), Throws.ArgumentException.With.Message.StartsWith($"prompt 1: {message}"));
        Assert.That(() => _policy.Sample(prompt, 2), Throws.ArgumentException.With.Message.StartsWith(message));
    }

    [Test]
    public void Score_Takes_Responses_Of_Any_Length_Up_To_The_Cap()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(_policy.Score([3, 1, 2], [1, 2, 3]), Is.EqualTo(SortingScore.Of(5, 1, true)));
            Assert.That(_policy.Score([3, 1, 2], [])!.Exact, Is.False);
            Assert.That(_policy.Score([3, 1, 2], [1, 2, 3, 3, 3, 3, 3])!["sortDistance"], Is.EqualTo(3.0 / 7));
            Assert.That(() => _policy.Score([3, 1, 2], new long[8]),
                Throws.ArgumentException.With.Message.StartsWith("response has length 8; the model's responses have at most 7 tokens"));
        }
    }

    [Test]
    public void Sorter_Only_Members_Say_So_For_A_Decoder()
    {
        Assert.That(() => _policy.Logits([1, 2]), Throws.TypeOf<NotSupportedException>().With.Message.Contains("decoder/1").And.Message.Contains("use Respond"));
        Assert.That(() => _policy.RespondBatch(new long[12], new long[12]), Throws.TypeOf<NotSupportedException>());
    }

    [Test]
    public void Concurrent_Batches_From_Many_Threads_Equal_The_Sequential_Ones()
    {
        var batches = Enumerable.Range(0, 16).Select(i => MixedPrompts(50, seed: 100 + (ulong)i)).ToArray();
        var expected = batches.Select(b => _policy.RespondBatch(b)).ToArray();
        var actual = new long[batches.Length][][];
        Parallel.For(0, batches.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => actual[i] = _policy.RespondBatch(batches[i]));
        Assert.That(actual, Is.EqualTo(expected));
    }
}
