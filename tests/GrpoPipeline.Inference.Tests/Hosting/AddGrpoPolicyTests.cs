using GrpoPipeline.Inference.Hosting;
using GrpoPipeline.Tests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NUnit.Framework;

namespace GrpoPipeline.Inference.Tests.Hosting;

/// <summary>
/// <c>services.AddGrpoPolicy(...)</c> in a plain generic host, as a worker service would use it: the registered
/// <see cref="IPolicy"/> sorts once the host has started, follows a replaced model file, and a bad setting stops
/// the host at start.
/// </summary>
[TestFixture]
public sealed class AddGrpoPolicyTests
{
    TempDir _dir = null!;
    string _model = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = new TempDir("di");
        _model = ModelFiles.ServedCopy(_dir.Root, Fixtures.Lecture);
    }

    [TearDown]
    public void TearDown() => _dir.Dispose();

    static IHost Build(Action<PolicyModelOptions> configure)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddGrpoPolicy(configure);
        return builder.Build();
    }

    [Test]
    public async Task The_Registered_Policy_Sorts_Like_The_Model_Once_The_Host_Started()
    {
        using var host = Build(o => o.ModelPath = _model);
        await host.StartAsync();
        var policy = host.Services.GetRequiredService<IPolicy>();
        using var direct = OnnxPolicy.Load(Fixtures.Lecture);

        foreach (var prompt in new long[][] { [3, 1, 2], [4, 0, 0], [1, 2, 3] })
            Assert.That(policy.Respond(prompt), Is.EqualTo(direct.Respond(prompt)));
        Assert.That(policy.Contract.RunName, Is.EqualTo(Fixtures.LectureRun));
        Assert.That(policy.RespondBatch([[3, 1, 2], [2, 2, 0]]), Is.EqualTo(direct.RespondBatch([[3, 1, 2], [2, 2, 0]])));
        Assert.That(policy.Sample([3, 1, 2], 4, 1.0, seed: 9), Is.EqualTo(direct.Sample([3, 1, 2], 4, 1.0, seed: 9)));
        Assert.That(policy.Score([3, 1, 2], [1, 2, 3]), Is.EqualTo(SortingScore.Of(5, 1.0, true)));
        Assert.That(host.Services.GetRequiredService<IPolicy>(), Is.SameAs(policy), "a singleton");
        await host.StopAsync();
    }

    [Test]
    public async Task The_Registered_Policy_Follows_A_Replaced_Model_File()
    {
        using var host = Build(o => { o.ModelPath = _model; o.ReloadDebounceMilliseconds = 20; o.ReloadPollMilliseconds = 50; });
        await host.StartAsync();
        var policy = host.Services.GetRequiredService<IPolicy>();
        Assert.That(policy.Contract.Prompts.MaxLength, Is.EqualTo(3));

        ModelFiles.ReplaceAtomically(_model, Fixtures.Small);
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (policy.Contract.RunName != Fixtures.SmallRun && DateTime.UtcNow < deadline) await Task.Delay(25);

        Assert.That(policy.Contract.RunName, Is.EqualTo(Fixtures.SmallRun), "the replacement was not picked up");
        Assert.That(policy.Respond([5, 1, 3, 0]), Has.Length.EqualTo(4), "the same registered policy answers with the new model");
        Assert.That(host.Services.GetRequiredService<PolicyHost>().Reloads, Is.EqualTo(1));
        await host.StopAsync();
    }

    [Test]
    public async Task A_Missing_Model_Stops_The_Host_At_Start_Naming_The_Key()
    {
        using var host = Build(o => o.ModelPath = Path.Combine(_dir.Root, "missing.onnx"));
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.That(e!.Message, Does.Contain("Policy:ModelPath").And.Contain("missing.onnx"));
    }

    [Test]
    public void A_Call_Before_The_Host_Starts_Says_No_Model_Is_Loaded_Yet()
    {
        using var host = Build(o => o.ModelPath = _model);
        var policy = host.Services.GetRequiredService<IPolicy>();
        Assert.That(() => policy.Respond([3, 1, 2]), Throws.InvalidOperationException.With.Message.Contains("no model is loaded"));
    }

    [Test]
    public void Registering_Twice_Watches_The_File_Once()
    {
        var services = new ServiceCollection();
        services.AddGrpoPolicy(o => o.ModelPath = _model);
        services.AddGrpoPolicy();
        Assert.That(services.Count(d => d.ServiceType == typeof(IHostedService)), Is.EqualTo(1));
        Assert.That(services.Count(d => d.ServiceType == typeof(IPolicy)), Is.EqualTo(1));
    }

    [Test]
    public async Task AddGrpoTask_Lets_A_Hosted_Policy_Score_A_Task_Of_The_App()
    {
        // A sorting model renamed to a task no one has registered: 'tros'.
        var model = Path.Combine(_dir.Root, "tros.onnx");
        File.WriteAllBytes(model, OnnxBytes.ReplaceMetadataValue(File.ReadAllBytes(Fixtures.Lecture), Core.OnnxContract.Metadata.Task, "tros"));
        Assert.That(Core.TaskRegistry.IsRegistered("tros"), Is.False, "premise: nothing registered 'tros' before");

        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddGrpoTask("tros", options => new Core.SortTask(options)).AddGrpoPolicy(o => o.ModelPath = model);
        using var host = builder.Build();
        await host.StartAsync();
        var policy = host.Services.GetRequiredService<IPolicy>();
        Assert.That((policy.Contract.TaskName, policy.Contract.HasRewards), Is.EqualTo(("tros", true)));
        Assert.That(policy.Score([3, 1, 2], [1, 2, 3]), Is.EqualTo(SortingScore.Of(5, 1.0, true)));
        await host.StopAsync();
    }
}
