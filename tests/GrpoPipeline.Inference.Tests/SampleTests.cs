using NUnit.Framework;

namespace GrpoPipeline.Inference.Tests;

/// <summary>
/// <see cref="OnnxPolicy.Sample"/> draws each position from softmax(logits / T): reproducible by seed, in range,
/// greedy as T → 0, and with the right frequencies.
/// </summary>
[TestFixture]
public sealed class SampleTests
{
    OnnxPolicy _policy = null!;   // the random-task model: L=6, V=12
    long[][] _candidates = null!;

    [OneTimeSetUp]
    public void Load()
    {
        _policy = OnnxPolicy.Load(TestModels.Random);
        _candidates = TestModels.RandomPrompts(64, 6, 12, seed: 51);
    }

    [OneTimeTearDown]
    public void Dispose() => _policy.Dispose();

    /// <summary>softmax(logits / T) per position, in double, computed here rather than by the code under test.</summary>
    double[][] Probabilities(long[] prompt, double temperature)
    {
        var logits = _policy.Logits(prompt);
        int v = _policy.VocabSize;
        return Enumerable.Range(0, _policy.PromptLength).Select(pos =>
        {
            var row = logits.AsSpan(pos * v, v).ToArray().Select(l => l / temperature).ToArray();
            double max = row.Max();
            var exp = row.Select(x => Math.Exp(x - max)).ToArray();
            double sum = exp.Sum();
            return exp.Select(e => e / sum).ToArray();
        }).ToArray();
    }

    /// <summary>The candidate prompt whose most uncertain position has the highest entropy at T.</summary>
    (long[] Prompt, int Position, double[] Probabilities) MostUncertain(double temperature)
    {
        static double Entropy(double[] p) => -p.Where(x => x > 0).Sum(x => x * Math.Log(x));
        return _candidates
            .SelectMany(prompt => Probabilities(prompt, temperature).Select((p, pos) => (prompt, pos, p)))
            .MaxBy(c => Entropy(c.p));
    }

    [Test]
    public void Same_Seed_Gives_The_Same_Responses()
    {
        var prompt = MostUncertain(2.0).Prompt;
        Assert.That(_policy.Sample(prompt, 256, 2.0, seed: 42), Is.EqualTo(_policy.Sample(prompt, 256, 2.0, seed: 42)));
    }

    [Test]
    public void Different_Seeds_Give_Different_Responses()
    {
        var (prompt, _, p) = MostUncertain(2.0);
        Assert.That(p.Max(), Is.LessThan(0.9), "the distribution at T=2 is not degenerate, so seeds can disagree");
        Assert.That(_policy.Sample(prompt, 256, 2.0, seed: 42), Is.Not.EqualTo(_policy.Sample(prompt, 256, 2.0, seed: 43)));
    }

    [Test]
    public void Samples_Have_The_Requested_Count_Length_And_Token_Range()
    {
        foreach (var (n, temperature) in new[] { (1, 1.0), (100, 2.0), (4096, 100.0) })
        {
            var samples = _policy.Sample(_candidates[0], n, temperature, seed: 7);
            Assert.That(samples, Has.Length.EqualTo(n));
            Assert.That(samples, Is.All.Length.EqualTo(6));
            Assert.That(samples.SelectMany(s => s), Is.All.InRange(0L, 11L), $"n={n}, T={temperature}");
        }
        // At T=100 the distribution is nearly uniform: every token shows up.
        var spread = _policy.Sample(_candidates[0], 4096, 100.0, seed: 8).SelectMany(s => s).Distinct().Count();
        Assert.That(spread, Is.EqualTo(12));
    }

    [Test]
    public void Very_Low_Temperature_Samples_The_Greedy_Response()
    {
        // Pick the prompt whose smallest top-two logit gap is largest: at T=0.01 a gap g leaves the runner-up e^(-100g).
        var prompt = _candidates.MaxBy(MinTopTwoGap)!;
        Assert.That(MinTopTwoGap(prompt), Is.GreaterThan(0.2), "every position has a clear winner");
        var greedy = _policy.Respond(prompt);
        Assert.That(_policy.Sample(prompt, 512, 0.01, seed: 9), Is.All.EqualTo(greedy));
    }

    double MinTopTwoGap(long[] prompt)
    {
        var logits = _policy.Logits(prompt);
        int v = _policy.VocabSize;
        return Enumerable.Range(0, _policy.PromptLength).Min(pos =>
        {
            var top = logits.AsSpan(pos * v, v).ToArray().OrderDescending().Take(2).ToArray();
            return (double)top[0] - top[1];
        });
    }

    [TestCase(1.0)]
    [TestCase(2.0)]
    public void Token_Frequencies_Match_Softmax_Of_Logits_Over_Temperature(double temperature)
    {
        const int n = 4096;
        var (prompt, position, expected) = MostUncertain(temperature);
        Assert.That(expected.Count(p => p > 0.05), Is.GreaterThanOrEqualTo(2), "the position has at least two likely tokens");

        var samples = _policy.Sample(prompt, n, temperature, seed: 1234);
        var observed = new double[_policy.VocabSize];
        foreach (var s in samples) observed[s[position]] += 1.0 / n;
        TestContext.Out.WriteLine($"T={temperature} position {position}: expected [{string.Join(", ", expected.Select(p => p.ToString("F3")))}]");
        TestContext.Out.WriteLine($"T={temperature} position {position}: observed [{string.Join(", ", observed.Select(p => p.ToString("F3")))}]");

        // Binomial standard error is at most √(0.25/4096) ≈ 0.008; 0.035 is over 4 of them.
        Assert.That(observed, Is.EqualTo(expected).Within(0.035));
    }
}
