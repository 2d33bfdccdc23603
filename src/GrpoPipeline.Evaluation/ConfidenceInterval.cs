namespace GrpoPipeline.Evaluation;

/// <summary>A two-sided confidence interval for a proportion.</summary>
public readonly record struct ConfidenceInterval(double Low, double High)
{
    /// <summary>z of a two-sided 95% interval, Φ⁻¹(0.975).</summary>
    public const double Z95 = 1.959963984540054;

    /// <summary>
    /// Wilson score interval (Wilson 1927; Brown, Cai &amp; DasGupta 2001 recommend it over the normal interval):
    /// <c>(p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n)</c>. Unlike p̂ ± z·√(p̂(1−p̂)/n) it stays inside [0, 1]
    /// and is not empty at 0/n or n/n. With no trials it is the whole [0, 1].
    /// </summary>
    public static ConfidenceInterval Wilson(int successes, int trials, double z = Z95)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(trials);
        ArgumentOutOfRangeException.ThrowIfNegative(successes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(successes, trials);
        if (trials == 0) return new(0, 1);
        double n = trials, p = successes / n, z2 = z * z;
        double denominator = 1 + z2 / n;
        double center = (p + z2 / (2 * n)) / denominator;
        double half = z * Math.Sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator;
        // At 0/n the lower bound is 0 and at n/n the upper is 1 exactly; the formula only gets there up to rounding.
        return new(successes == 0 ? 0 : center - half, successes == trials ? 1 : center + half);
    }
}
