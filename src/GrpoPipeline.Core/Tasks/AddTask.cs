namespace GrpoPipeline.Core;

/// <summary>The order of the answer's digits.</summary>
public enum DigitOrder
{
    /// <summary>Least significant first: each digit depends only on the digits before it and one carry.</summary>
    LeastSignificantFirst,
    /// <summary>Most significant first, as the sum is written.</summary>
    MostSignificantFirst,
}

/// <summary>The <c>add</c> task's options (<c>task.add</c>).</summary>
public sealed record AddOptions
{
    /// <summary>Fewest digits of an operand. Default 1.</summary>
    public int MinDigits { get; init; } = 1;
    /// <summary>Most digits of an operand, 1..4. Default 2.</summary>
    public int MaxDigits { get; init; } = 2;
    /// <summary>The order of the answer's digits. Default <c>least_significant_first</c>.</summary>
    public DigitOrder AnswerOrder { get; init; } = DigitOrder.LeastSignificantFirst;

    /// <summary>Throws <see cref="ConfigException"/> naming the first bad value.</summary>
    public void Validate()
    {
        ConfigException.Require(MaxDigits is >= 1 and <= 4, "task.add.maxDigits", MaxDigits, "1..4");
        ConfigException.Require(MinDigits >= 1 && MinDigits <= MaxDigits, "task.add.minDigits", MinDigits, $"1..maxDigits ({MaxDigits})");
    }
}

/// <summary>
/// The lecture's running example of an outcome reward: <c>a + b =</c> in digit tokens, answered with the digits of the
/// sum. Tokens 0..9 are digits, 10 is <c>+</c>, 11 is <c>=</c>; operands are written most significant digit first, and
/// the answer in <see cref="AddOptions.AnswerOrder"/>. Each operand draws its digit count uniformly from
/// minDigits..maxDigits, then its value uniformly among the numbers with that many digits. The held-out split hashes the
/// prompt's tokens, as every task's does.
/// </summary>
public sealed class AddTask : VerifiableTask
{
    /// <summary>The name addition is registered under.</summary>
    public const string TaskName = "add";
    /// <summary>The token of <c>+</c>.</summary>
    public const long Plus = 10;
    /// <summary>The token of <c>=</c>.</summary>
    public const long EqualsSign = 11;

    const int EnumerationLimit = 1 << 22;
    const int MaxRejections = 1_000_000;

    static readonly RewardComponent[] Rewards =
    [
        new("digitShare", 1, "share of answer digits right, of max(|response|, |answer|) (0..1)"),
        new(RewardComponent.ExactName, 0, "1 when the response is the sum's digits, length included"),
    ];

    readonly AddOptions _add;
    readonly ulong _heldOutThreshold;

    /// <exception cref="ConfigException"><c>task.add</c> is missing or holds a bad value, or the task has a curriculum.</exception>
    public AddTask(TaskOptions options) : base(options)
    {
        _add = options.Add ?? throw new ConfigException("task.add", "config 'task.add' is missing: task 'add' needs { \"minDigits\": …, \"maxDigits\": …, \"answerOrder\": … }");
        _add.Validate();
        ConfigException.Require(options.Curriculum is null, "task.curriculum", "{…}", "null for task 'add'");
        ConfigException.Require(options.BatchSize is >= 1 and <= 65536, "task.batchSize", options.BatchSize, "1..65536");
        ConfigException.Require(options.HeldOutFraction is >= 0 and <= 0.5, "task.heldOutFraction", options.HeldOutFraction, "0..0.5");
        _heldOutThreshold = (ulong)(options.HeldOutFraction * 18446744073709551616.0);
    }

    /// <inheritdoc/>
    public override string Name => TaskName;
    /// <inheritdoc/>
    public override int Vocab => 12;
    /// <inheritdoc/>
    public override bool IsVariableLength => true;
    /// <inheritdoc/>
    public override int MaxPromptLength => 2 * _add.MaxDigits + 2;
    /// <inheritdoc/>
    public override PromptRules Rules => new(2 * _add.MinDigits + 2, MaxPromptLength, Vocab);
    /// <inheritdoc/>
    public override int MaxResponseLength => _add.MaxDigits + 2;   // a carry digit, and EOS
    /// <inheritdoc/>
    public override int BatchSize => Options.BatchSize;
    /// <inheritdoc/>
    public override IReadOnlyList<RewardComponent> Components => Rewards;

    /// <inheritdoc/>
    public override string TokenName(long token) => token switch { Plus => "+", EqualsSign => "=", _ => base.TokenName(token) };

    /// <summary>Beyond <see cref="VerifiableTask.Rules"/>: digits, <c>+</c>, digits, <c>=</c>, each operand of minDigits..maxDigits digits without a leading zero.</summary>
    public override string? Problem(ReadOnlySpan<long> prompt)
    {
        if (Rules.Problem(prompt) is { } problem) return problem;
        int plus = prompt.IndexOf(Plus);
        if (plus < 0) return "prompt has no '+' (token 10); an addition prompt is a + b = in digit tokens";
        if (prompt[^1] != EqualsSign) return $"token at index {prompt.Length - 1} is {TokenName(prompt[^1])}; an addition prompt ends with '=' (token 11)";
        return OperandProblem(prompt[..plus], 0) ?? OperandProblem(prompt[(plus + 1)..^1], plus + 1);
    }

    string? OperandProblem(ReadOnlySpan<long> digits, int offset)
    {
        if (digits.Length < _add.MinDigits || digits.Length > _add.MaxDigits)
            return $"the operand at index {offset} has {digits.Length} digits; this model adds numbers of {_add.MinDigits}..{_add.MaxDigits} digits";
        for (int i = 0; i < digits.Length; i++)
            if (digits[i] > 9) return $"token at index {offset + i} is {TokenName(digits[i])}; an operand holds digits 0..9 only";
        if (digits.Length > 1 && digits[0] == 0) return $"the operand at index {offset} has a leading zero";
        return null;
    }

    /// <inheritdoc/>
    public override bool IsHeldOut(ReadOnlySpan<long> prompt) => TokenListTask.Hash(prompt, Rng.Mix(Options.SplitSalt ^ (ulong)prompt.Length)) < _heldOutThreshold;

    /// <inheritdoc/>
    public override void SampleTrainingBatch(TokenRows batch, Rng rng)
    {
        Span<long> prompt = stackalloc long[MaxPromptLength];
        for (int b = 0; b < batch.Count; b++)
        {
            int length, rejections = 0;
            do
            {
                length = Write(Draw(rng), Draw(rng), prompt);
                if (++rejections > MaxRejections) throw new InvalidOperationException("no training prompt found: the held-out split covers almost all of them");
            } while (IsHeldOut(prompt[..length]));
            batch.Set(b, prompt[..length]);
        }
    }

    /// <inheritdoc/>
    public override IReadOnlyList<long[]> HeldOutPrompts(int count, ulong seed)
    {
        var rng = new Rng(seed);
        long low = Pow10(_add.MinDigits - 1) == 1 ? 0 : Pow10(_add.MinDigits - 1), high = Pow10(_add.MaxDigits);
        Span<long> prompt = stackalloc long[MaxPromptLength];
        var found = new List<long[]>();
        if ((high - low) * (high - low) <= EnumerationLimit)
        {
            for (long a = low; a < high; a++)
                for (long b = low; b < high; b++)
                {
                    int length = Write(a, b, prompt);
                    if (IsHeldOut(prompt[..length])) found.Add(prompt[..length].ToArray());
                }
            return SeededChoice(found, count, rng);
        }
        var seen = new HashSet<(long, long)>();
        for (int misses = 0; found.Count < count && misses < MaxRejections;)
        {
            long a = Draw(rng), b = Draw(rng);
            int length = Write(a, b, prompt);
            if (IsHeldOut(prompt[..length]) && seen.Add((a, b))) { found.Add(prompt[..length].ToArray()); misses = 0; }
            else misses++;
        }
        return found;
    }

    /// <inheritdoc/>
    public override void Score(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response, Span<double> values)
    {
        Span<long> answer = stackalloc long[MaxResponseLength];
        var expected = Answer(prompt, answer);
        int same = 0;
        for (int i = 0; i < Math.Min(expected.Length, response.Length); i++)
            if (expected[i] == response[i]) same++;
        values[0] = (double)same / Math.Max(expected.Length, response.Length);
        values[1] = expected.SequenceEqual(response) ? 1 : 0;
    }

    /// <inheritdoc/>
    public override bool IsExact(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response)
    {
        Span<long> answer = stackalloc long[MaxResponseLength];
        return Answer(prompt, answer).SequenceEqual(response);
    }

    /// <inheritdoc/>
    public override double MaxReward(IReadOnlyList<double> weights, int promptLength) => weights[0] + weights[1];

    /// <summary>The digits of a + b for a prompt <c>a + b =</c>, in the answer's order, written into <paramref name="room"/>.</summary>
    public ReadOnlySpan<long> Answer(ReadOnlySpan<long> prompt, Span<long> room)
    {
        int plus = prompt.IndexOf(Plus);
        long sum = Number(prompt[..plus]) + Number(prompt[(plus + 1)..^1]);
        int n = 0;
        do { room[n++] = sum % 10; sum /= 10; } while (sum > 0);   // least significant first
        if (_add.AnswerOrder == DigitOrder.MostSignificantFirst) room[..n].Reverse();
        return room[..n];
    }

    long Draw(Rng rng)
    {
        int digits = _add.MinDigits + rng.NextInt(_add.MaxDigits - _add.MinDigits + 1);
        long first = digits == 1 ? 0 : Pow10(digits - 1);
        return first + rng.NextInt((int)(Pow10(digits) - first));
    }

    /// <summary>Writes <c>a + b =</c> into <paramref name="prompt"/>; returns its length.</summary>
    static int Write(long a, long b, Span<long> prompt)
    {
        int n = WriteNumber(a, prompt);
        prompt[n++] = Plus;
        n += WriteNumber(b, prompt[n..]);
        prompt[n++] = EqualsSign;
        return n;
    }

    static int WriteNumber(long value, Span<long> into)
    {
        var text = value.ToString(System.Globalization.CultureInfo.InvariantCulture);
        for (int i = 0; i < text.Length; i++) into[i] = text[i] - '0';
        return text.Length;
    }

    static long Number(ReadOnlySpan<long> digits)
    {
        long value = 0;
        foreach (var d in digits) value = value * 10 + d;
        return value;
    }

    static long Pow10(int n)
    {
        long p = 1;
        for (int i = 0; i < n; i++) p *= 10;
        return p;
    }
}
