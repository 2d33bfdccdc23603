namespace GrpoPipeline.Core;

/// <summary>
/// The tasks by name (<c>task.name</c> in a config, <c>grpo.task</c> in an exported model). The built-in ones are
/// registered from the start; an app adds its own with <see cref="Register"/> before it builds a config that names it.
/// </summary>
public static class TaskRegistry
{
    static readonly Dictionary<string, Func<TaskOptions, VerifiableTask>> Factories = new(StringComparer.Ordinal)
    {
        [SortTask.TaskName] = options => new SortTask(options),
        [ReverseTask.TaskName] = options => new ReverseTask(options),
        [AddTask.TaskName] = options => new AddTask(options),
    };
    static readonly Lock Gate = new();

    /// <summary>The registered names, sorted.</summary>
    public static IReadOnlyList<string> Names
    {
        get { lock (Gate) return Factories.Keys.Order(StringComparer.Ordinal).ToList(); }
    }

    /// <summary>Whether a task is registered under <paramref name="name"/>.</summary>
    public static bool IsRegistered(string name)
    {
        lock (Gate) return Factories.ContainsKey(name);
    }

    /// <summary>Registers (or replaces) the task called <paramref name="name"/>.</summary>
    public static void Register(string name, Func<TaskOptions, VerifiableTask> create)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(create);
        lock (Gate) Factories[name] = create;
    }

    /// <summary>The task <see cref="TaskOptions.Name"/> names, built from <paramref name="options"/>.</summary>
    /// <exception cref="ConfigException">No task has that name; the message lists the registered ones.</exception>
    public static VerifiableTask Create(TaskOptions options)
    {
        Func<TaskOptions, VerifiableTask>? create;
        lock (Gate) Factories.TryGetValue(options.Name, out create);
        if (create is null)
            throw new ConfigException("task.name", $"config 'task.name' = \"{options.Name}\" is not a known task; the tasks are {string.Join(", ", Names)}");
        var task = create(options);
        if (!task.Components.Any(c => c.Name == RewardComponent.ExactName))
            throw new InvalidOperationException($"task '{options.Name}' has no '{RewardComponent.ExactName}' reward component: every task scores its correctness check as one");
        return task;
    }
}
