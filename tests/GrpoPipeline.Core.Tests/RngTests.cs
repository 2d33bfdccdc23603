namespace GrpoPipeline.Core.Tests;

/// <summary>Rng (xoshiro256** seeded by SplitMix64): reproducibility, checkpointable state, NextInt's range and spread.</summary>
[TestFixture]
public sealed class RngTests
{
    static ulong[] Draw(Rng rng, int count) => Enumerable.Range(0, count).Select(_ => rng.NextUInt64()).ToArray();

    [Test]
    public void The_Same_Seed_Gives_The_Same_Sequence()
    {
        Assert.That(Draw(new Rng(2025), 1000), Is.EqualTo(Draw(new Rng(2025), 1000)));
    }

    [Test]
    public void Different_Seeds_Give_Different_Sequences()
    {
        Assert.That(Draw(new Rng(2025), 16), Is.Not.EqualTo(Draw(new Rng(2026), 16)));
    }

    [Test]
    public void Seeding_Fills_The_State_With_SplitMix64_Outputs()
    {
        // SplitMix64 seeded with 0 (Vigna, splitmix64.c) starts e220a8397b1dcdaf, 6e789e6aa1b965f4,
        // 06c45d188009454f, f88bb8a8724c81ec.
        Assert.That(new Rng(0).State,
            Is.EqualTo(new[] { 0xE220A8397B1DCDAFUL, 0x6E789E6AA1B965F4UL, 0x06C45D188009454FUL, 0xF88BB8A8724C81ECUL }));
    }

    [Test]
    public void NextUInt64_Is_xoshiro256StarStar()
    {
        // From s = (1, 2, 3, 4), worked by hand from Blackman & Vigna's update (output = rotl(s1·5, 7)·9):
        // out1 = rotl(10, 7)·9 = 11520, then s = (7, 0, 262146, rotl(6, 45) = 6<<45);
        // out2 = rotl(0, 7)·9 = 0, then s = (7 ^ 6<<45, 262146 ^ 7 = 262149, 262149, rotl(6<<45, 45) = 3<<27);
        // out3 = rotl(262149·5, 7)·9 = 1310745·128·9 = 1509978240.
        var rng = new Rng(99) { State = [1, 2, 3, 4] };

        Assert.That(Draw(rng, 2), Is.EqualTo(new ulong[] { 11520, 0 }));
        Assert.That(rng.State, Is.EqualTo(new[] { 7UL ^ (6UL << 45), 262149UL, 262149UL, 3UL << 27 }));
        Assert.That(rng.NextUInt64(), Is.EqualTo(1509978240UL));
    }

    [Test]
    public void Restoring_The_State_Continues_The_Identical_Sequence()
    {
        var original = new Rng(7);
        Draw(original, 37);
        var saved = original.State;
        var expected = Draw(original, 500);

        var restored = new Rng(12345) { State = saved };

        Assert.That(Draw(restored, 500), Is.EqualTo(expected));
    }

    [Test]
    public void State_Is_A_Copy_That_Does_Not_Alias_The_Generator()
    {
        var rng = new Rng(7);
        var state = rng.State;
        var expected = Draw(new Rng(7), 5);

        state[0] ^= 1;

        Assert.That(Draw(rng, 5), Is.EqualTo(expected));
    }

    [Test]
    public void Setting_An_All_Zero_State_Throws()
    {
        var rng = new Rng(1);
        Assert.That(() => rng.State = [0, 0, 0, 0], Throws.ArgumentException);
    }

    [TestCase(3)]
    [TestCase(5)]
    public void Setting_A_State_Of_The_Wrong_Length_Throws(int words)
    {
        var rng = new Rng(1);
        Assert.That(() => rng.State = Enumerable.Repeat(1UL, words).ToArray(), Throws.ArgumentException);
    }

    [Test]
    public void A_Rejected_State_Leaves_The_Generator_Unchanged()
    {
        var rng = new Rng(3);
        var expected = Draw(new Rng(3), 5);

        Assert.That(() => rng.State = [0, 0, 0, 0], Throws.ArgumentException);
        Assert.That(Draw(rng, 5), Is.EqualTo(expected));
    }

    [Test]
    public void NextInt_Stays_In_Range_And_Is_Roughly_Uniform()
    {
        const int n = 10, draws = 100_000;
        var rng = new Rng(31337);
        var counts = new int[n];
        int outOfRange = 0;
        for (int i = 0; i < draws; i++)
        {
            int x = rng.NextInt(n);
            if (x is < 0 or >= n) outOfRange++;
            else counts[x]++;
        }

        double expected = (double)draws / n;
        double chiSquare = counts.Sum(c => (c - expected) * (c - expected) / expected);

        Assert.That(outOfRange, Is.Zero);
        // 9 degrees of freedom: P(χ² > 30) ≈ 4e-4 for a uniform generator; a biased one (e.g. x % n of a
        // skewed source, or an off-by-one that never yields n−1) is far above it.
        Assert.That(chiSquare, Is.LessThan(30), $"counts {string.Join(", ", counts)}");
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(int.MaxValue)]
    public void NextInt_Stays_In_Range_For_Extreme_Bounds(int n)
    {
        var rng = new Rng(5);
        var values = Enumerable.Range(0, 10_000).Select(_ => rng.NextInt(n)).ToArray();

        Assert.That(values, Is.All.InRange(0, n - 1));
        if (n == 1) Assert.That(values, Is.All.Zero);
        else Assert.That(values.Distinct().Count(), Is.GreaterThan(1));
    }
}
