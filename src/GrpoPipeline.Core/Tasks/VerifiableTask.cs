using System.Globalization;

namespace GrpoPipeline.Core;

/// <summary>One named part of a task's reward: its config key (<c>rewards.&lt;name&gt;</c>) and metric.</summary>
/// <param name="Name">camelCase, as in the config: <c>sortDistance</c>.</param>
/// <param name="DefaultWeight">Its weight when the config's <c>rewards</c> does not name it.</param>
/// <param name="Description">What it measures, for documentation and error messages.</param>
public sealed record RewardComponent(string Name, double DefaultWeight, string Description)
{
    /// <summary>The correctness check every task has: 1 when the response is right, else 0.</summary>
    public const string ExactName = "exact";

    /// <summary>The metrics.jsonl key of its mean over a rollout: <c>reward/sort_distance</c>.</summary>
    public string MetricKey => MetricKeys.Reward(Name);
}

/// <summary>
/// A task with a verifiable outcome reward (CS336 lecture 17: "if you can measure it, you can optimize it"): everything
/// task-specific in one place — the vocabulary, prompt sampling with its deterministic, content-disjoint held-out split,
/// the prompt rules, the longest response, the named reward components and the correctness check (<c>exact</c>). The
/// trainer, the sampler, the metrics and the greedy evaluator ask the task; none of them names one.
/// </summary>
/// <remarks>
/// <see cref="TaskRegistry"/> builds a task from <see cref="TaskOptions.Name"/>. A task's components must include
/// <see cref="RewardComponent.ExactName"/>, scored as <see cref="IsExact"/>.
/// </remarks>
public abstract class VerifiableTask
{
    /// <param name="options">The task's options; validated here.</param>
    protected VerifiableTask(TaskOptions options)
    {
        options.Validate();
        Options = options;
    }

    /// <summary>The options the task was built from.</summary>
    public TaskOptions Options { get; }

    /// <summary>The name it is registered under (<c>task.name</c>), also written into exported models.</summary>
    public abstract string Name { get; }

    /// <summary>V: prompt and response tokens are 0..V−1 (special tokens come after, see <see cref="SpecialTokens"/>).</summary>
    public virtual int Vocab => Options.Vocab;

    /// <summary>Whether prompts and responses vary in length (a decoder's task: responses end with EOS).</summary>
    public virtual bool IsVariableLength => Options.IsVariableLength;

    /// <summary>SEP, EOS and PAD, right after the values.</summary>
    public SpecialTokens Special => SpecialTokens.For(Vocab);

    /// <summary>What fills the unused slots of a row: PAD for a variable-length task, else 0 (rows are full).</summary>
    public long Padding => IsVariableLength ? Special.Pad : 0;

    /// <summary>The longest prompt.</summary>
    public virtual int MaxPromptLength => Options.MaxPromptLength;

    /// <summary>How token <paramref name="token"/> reads to a person: its number, or SEP, EOS, PAD.</summary>
    public virtual string TokenName(long token)
    {
        var special = Special;
        return token == special.Sep ? "SEP" : token == special.Eos ? "EOS" : token == special.Pad ? "PAD" : token.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>What a prompt must look like (lengths, token range), with precise messages.</summary>
    public virtual PromptRules Rules => Options.Rules;

    /// <summary>
    /// What is wrong with <paramref name="prompt"/> as a prompt of this task, or null when it is one: <see cref="Rules"/>'
    /// length and token range, and whatever shape the task requires on top (a task overrides it to add that).
    /// Inference, the service and the evaluation ask it before a prompt reaches a model.
    /// </summary>
    public virtual string? Problem(ReadOnlySpan<long> prompt) => Rules.Problem(prompt);

    /// <summary>The longest response, EOS included for variable-length tasks.</summary>
    public virtual int MaxResponseLength => Options.MaxResponseLength;

    /// <summary>Prompts per training batch.</summary>
    public virtual int BatchSize => Options.PromptsPerBatch;

    /// <summary>True when the prompt belongs to the held-out split, which training never sees.</summary>
    public abstract bool IsHeldOut(ReadOnlySpan<long> prompt);

    /// <summary>A buffer for one training batch.</summary>
    public TokenRows NewBatch() => new(BatchSize, MaxPromptLength, Padding);

    /// <summary>Fills every row of <paramref name="batch"/> with a training prompt (never a held-out one).</summary>
    public abstract void SampleTrainingBatch(TokenRows batch, Rng rng);

    /// <summary><paramref name="count"/> distinct held-out prompts (fewer if fewer exist), chosen by <paramref name="seed"/>.</summary>
    public abstract IReadOnlyList<long[]> HeldOutPrompts(int count, ulong seed);

    /// <summary>
    /// <paramref name="count"/> of <paramref name="all"/> (or all of them), chosen by <paramref name="rng"/> with a
    /// partial Fisher–Yates shuffle: the held-out prompts of a space small enough to enumerate.
    /// </summary>
    protected static List<long[]> SeededChoice(List<long[]> all, int count, Rng rng)
    {
        int n = Math.Min(count, all.Count);
        for (int i = 0; i < n; i++)
        {
            int j = i + rng.NextInt(all.Count - i);
            (all[i], all[j]) = (all[j], all[i]);
        }
        return all.GetRange(0, n);
    }

    /// <summary>The evaluation set named by the options (<see cref="TaskOptions.HeldOutSize"/>, <see cref="TaskOptions.HeldOutSeed"/>).</summary>
    public IReadOnlyList<long[]> HeldOutPrompts() => HeldOutPrompts(Options.HeldOutSize, Options.HeldOutSeed);

    /// <summary>The reward components, in the order of <see cref="Score"/>'s values and of the metrics.</summary>
    public abstract IReadOnlyList<RewardComponent> Components { get; }

    /// <summary>Writes each component's value for <paramref name="response"/> (EOS excluded) to <paramref name="prompt"/>.</summary>
    public abstract void Score(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response, Span<double> values);

    /// <summary>The correctness check: the response is the right answer, length included.</summary>
    public abstract bool IsExact(ReadOnlySpan<long> prompt, ReadOnlySpan<long> response);

    /// <summary>The largest weighted reward a response to a prompt of <paramref name="promptLength"/> tokens can earn.</summary>
    public abstract double MaxReward(IReadOnlyList<double> weights, int promptLength);

    /// <summary>The task at curriculum level <paramref name="level"/> (<see cref="TaskOptions.AtLevel"/>).</summary>
    public VerifiableTask AtLevel(int level) => TaskRegistry.Create(Options.AtLevel(level));

    /// <summary>
    /// Each component's weight, in <see cref="Components"/> order: the config's where it names one, the default
    /// elsewhere. Throws <see cref="ConfigException"/> for a name the task does not have (naming those it has), a weight
    /// outside 0..1000, or all weights zero.
    /// </summary>
    public double[] Weights(RewardWeights given)
    {
        var names = Components.Select(c => c.Name).ToList();
        foreach (var (name, _) in given)
            if (!names.Contains(name))
                throw new ConfigException($"rewards.{name}",
                    $"config 'rewards.{name}' is not a reward component of task '{Name}'; its components are {string.Join(", ", names)}");
        var weights = Components.Select(c => given.TryGetValue(c.Name, out var w) ? w : c.DefaultWeight).ToArray();
        for (int i = 0; i < weights.Length; i++)
            ConfigException.Require(double.IsFinite(weights[i]) && weights[i] >= 0 && weights[i] <= 1000, $"rewards.{names[i]}", weights[i], "a finite weight in 0..1000");
        ConfigException.Require(weights.Sum() > 0, "rewards", "all zero", "at least one weight > 0");
        return weights;
    }
}
