namespace GrpoPipeline.Core;

/// <summary>Where training prompts come from.</summary>
public enum TaskKind
{
    /// <summary>A fixed list of prompts, all of them in every batch (the lecture's setting).</summary>
    Fixed,
    /// <summary>Uniform random prompts of length L over vocab V, minus the held-out split.</summary>
    Random,
    /// <summary>
    /// Prompts whose length is drawn uniformly from minLength..maxLength, then tokens uniform over 0..V−1, minus the
    /// held-out split; answered token by token (a decoder policy), ending with EOS.
    /// </summary>
    Variable,
}

/// <summary>
/// A curriculum (Bengio et al. 2009): training starts on easy prompts and widens when the policy has learned them. The
/// level is a variable task's longest prompt (lengths minLength..level) or a random task's value range (tokens
/// 0..level−1); it rises by <see cref="Step"/> when greedy exact match on held-out prompts of the current level reaches
/// <see cref="Threshold"/>, checked every <see cref="Every"/> epochs, until it is the task's own.
/// </summary>
public sealed record CurriculumOptions
{
    /// <summary>The first level: a longest prompt (variable task) or a number of values (random task). Default 2.</summary>
    public int Start { get; init; } = 2;
    /// <summary>How much the level rises at a time. Default 1.</summary>
    public int Step { get; init; } = 1;
    /// <summary>Held-out exact match at the current level that moves it up. Default 0.95.</summary>
    public double Threshold { get; init; } = 0.95;
    /// <summary>Epochs between checks of the current level. Default 25.</summary>
    public int Every { get; init; } = 25;
    /// <summary>Held-out prompts of the current level each check evaluates. Default 256.</summary>
    public int HeldOutSize { get; init; } = 256;
}

/// <summary>A task and its prompt space: which task (<see cref="Name"/>), which prompts exist, and which are held out from training.</summary>
public sealed record TaskOptions
{
    /// <summary>The lecture's fixed prompts.</summary>
    public static readonly long[][] LecturePrompts = [[1, 0, 2], [3, 2, 4], [1, 2, 3]];

    /// <summary>The task, by its registered name (<see cref="TaskRegistry"/>). Default <c>sort</c>.</summary>
    public string Name { get; init; } = SortTask.TaskName;
    /// <summary>Fixed prompts or random ones. Default <c>fixed</c>.</summary>
    public TaskKind Kind { get; init; } = TaskKind.Fixed;
    /// <summary>The prompts of a fixed task, all the same length. Default the lecture's three.</summary>
    public long[][] Prompts { get; init; } = LecturePrompts;
    /// <summary>Prompt (and response) length L of a random task. Default 5.</summary>
    public int PromptLength { get; init; } = 5;
    /// <summary>Vocab size V of a random or variable task: tokens are 0..V-1. Default 10.</summary>
    public int VocabSize { get; init; } = 10;
    /// <summary>Shortest prompt of a variable task, 1..maxLength. Default 1.</summary>
    public int MinLength { get; init; } = 1;
    /// <summary>Longest prompt of a variable task, minLength..32. Default 8.</summary>
    public int MaxLength { get; init; } = 8;
    /// <summary>Prompts per epoch for a random or variable task (a fixed task uses all its prompts). Default 64.</summary>
    public int BatchSize { get; init; } = 64;
    /// <summary>Share of all random prompts reserved for evaluation by the hash split. Default 0.1.</summary>
    public double HeldOutFraction { get; init; } = 0.1;
    /// <summary>Salt of the hash split: another salt gives another split. Default 20250517.</summary>
    public ulong SplitSalt { get; init; } = 20250517;
    /// <summary>How many held-out prompts evaluation uses (fewer if fewer exist). Default 256.</summary>
    public int HeldOutSize { get; init; } = 256;
    /// <summary>Seed that picks which held-out prompts evaluation uses. Default 1.</summary>
    public ulong HeldOutSeed { get; init; } = 1;
    /// <summary>A length (variable task) or value-range (random task) curriculum; null trains on the whole task. Default null.</summary>
    public CurriculumOptions? Curriculum { get; init; }
    /// <summary>The <c>add</c> task's operands and answer order; null for other tasks. Default null.</summary>
    public AddOptions? Add { get; init; }

    /// <summary>The curriculum's last level, the task itself: maxLength for a variable task, V for a random one.</summary>
    public int FinalLevel => IsVariableLength ? MaxLength : VocabSize;

    /// <summary>
    /// The task restricted to curriculum level <paramref name="level"/>: prompts of length minLength..level, or tokens
    /// 0..level−1. The held-out split is the same rule, so a prompt is held out at every level or at none.
    /// </summary>
    public TaskOptions AtLevel(int level) => (IsVariableLength ? this with { MaxLength = level } : this with { VocabSize = level }) with { Curriculum = null };

    /// <summary>Prompt length L of a fixed-length task (fixed or random); the longest prompt of a variable one.</summary>
    public int Length => MaxPromptLength;
    /// <summary>Shortest prompt: L, or minLength for a variable task.</summary>
    public int MinPromptLength => Kind switch { TaskKind.Fixed => Prompts[0].Length, TaskKind.Random => PromptLength, _ => MinLength };
    /// <summary>Longest prompt: L, or maxLength for a variable task.</summary>
    public int MaxPromptLength => Kind switch { TaskKind.Fixed => Prompts[0].Length, TaskKind.Random => PromptLength, _ => MaxLength };
    /// <summary>Whether prompts have different lengths (and responses end with EOS).</summary>
    public bool IsVariableLength => Kind == TaskKind.Variable;
    /// <summary>
    /// The longest response: L for a fixed-length task (one token per prompt token); maxLength + 1 for a variable one,
    /// whose response ends with EOS (a response that reaches it without EOS is truncated).
    /// </summary>
    public int MaxResponseLength => IsVariableLength ? MaxLength + 1 : MaxPromptLength;
    /// <summary>Effective vocab size V (max token + 1 for a fixed task, as the lecture does).</summary>
    public int Vocab => Kind == TaskKind.Fixed ? (int)Prompts.Max(p => p.Max()) + 1 : VocabSize;
    /// <summary>The special tokens of a variable task (SEP = V, EOS = V+1, PAD = V+2).</summary>
    public SpecialTokens Special => SpecialTokens.For(Vocab);
    /// <summary>The prompts the task's models accept.</summary>
    public PromptRules Rules => new(MinPromptLength, MaxPromptLength, Vocab);
    /// <summary>Prompts in each training batch.</summary>
    public int PromptsPerBatch => Kind == TaskKind.Fixed ? Prompts.Length : BatchSize;

    /// <summary>Longest prompt of a variable task.</summary>
    public const int MaxVariableLength = 32;

    /// <summary>Throws <see cref="ConfigException"/> naming the first bad key.</summary>
    public void Validate()
    {
        if (Kind == TaskKind.Fixed)
        {
            ConfigException.Require(Prompts is { Length: > 0 }, "task.prompts", Prompts?.Length, "at least one prompt");
            int l = Prompts![0]?.Length ?? 0;
            ConfigException.Require(l is >= 2 and <= 64, "task.prompts[0].length", l, "2..64");
            for (int i = 0; i < Prompts.Length; i++)
            {
                ConfigException.Require(Prompts[i]?.Length == l, $"task.prompts[{i}].length", Prompts[i]?.Length, $"{l}, like prompt 0");
                for (int j = 0; j < l; j++)
                    ConfigException.Require(Prompts[i]![j] is >= 0 and < 1024, $"task.prompts[{i}][{j}]", Prompts[i]![j], "0..1023");
            }
        }
        else
        {
            if (Kind == TaskKind.Variable)
            {
                ConfigException.Require(MaxLength is >= 1 and <= MaxVariableLength, "task.maxLength", MaxLength, $"1..{MaxVariableLength}");
                ConfigException.Require(MinLength >= 1 && MinLength <= MaxLength, "task.minLength", MinLength, $"1..maxLength ({MaxLength})");
            }
            else ConfigException.Require(PromptLength is >= 2 and <= 64, "task.promptLength", PromptLength, "2..64");
            ConfigException.Require(VocabSize is >= 2 and <= 1024, "task.vocabSize", VocabSize, "2..1024");
            ConfigException.Require(BatchSize is >= 1 and <= 65536, "task.batchSize", BatchSize, "1..65536");
            ConfigException.Require(HeldOutFraction is >= 0 and <= 0.5, "task.heldOutFraction", HeldOutFraction, "0..0.5");
        }
        ConfigException.Require(HeldOutSize is >= 0 and <= 1_000_000, "task.heldOutSize", HeldOutSize, "0..1000000");
        ConfigException.Require(Add is null || Name == AddTask.TaskName, "task.add", "{…}", $"null unless task.name is '{AddTask.TaskName}'");
        if (Curriculum is { } c)
        {
            ConfigException.Require(Kind != TaskKind.Fixed, "task.curriculum", "{…}", "null for a fixed task (a curriculum widens a random or variable task)");
            int first = IsVariableLength ? MinLength : 2;
            ConfigException.Require(c.Start >= first && c.Start <= FinalLevel, "task.curriculum.start", c.Start,
                IsVariableLength ? $"minLength..maxLength ({first}..{FinalLevel}), the longest prompt to start with" : $"2..vocabSize ({FinalLevel}), the values to start with");
            ConfigException.Require(c.Step >= 1, "task.curriculum.step", c.Step, "≥ 1");
            ConfigException.Require(c.Threshold is > 0 and <= 1, "task.curriculum.threshold", c.Threshold, "0 < threshold ≤ 1");
            ConfigException.Require(c.Every >= 1, "task.curriculum.every", c.Every, "≥ 1 epoch");
            ConfigException.Require(c.HeldOutSize is >= 1 and <= 100_000, "task.curriculum.heldOutSize", c.HeldOutSize, "1..100000");
        }
    }
}
