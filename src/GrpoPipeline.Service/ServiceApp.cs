using GrpoPipeline.Service.Features;
using GrpoPipeline.Service.Hosting;
using GrpoPipeline.Service.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace GrpoPipeline.Service;

/// <summary>
/// Builds the sorter service. <c>Program</c> runs it; other hosts (the <c>grpo serve</c> command) call
/// <see cref="Build"/> with their own arguments, e.g. <c>--Sorter:ModelPath=models/seed.onnx --urls=http://127.0.0.1:5080</c>.
/// </summary>
public static class ServiceApp
{
    /// <summary>Configuration key of the model file.</summary>
    public const string ModelPathKey = $"{ServiceOptions.Section}:{nameof(ServiceOptions.ModelPath)}";
    /// <summary>Configuration key of the listening URLs (ASP.NET Core's own).</summary>
    public const string UrlsKey = "urls";

    /// <summary>
    /// A ready-to-run app: services registered, endpoints mapped. <paramref name="configure"/> runs after the
    /// service's registrations and can add configuration sources or replace services.
    /// </summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        AddServices(builder);
        configure?.Invoke(builder);
        var app = builder.Build();
        MapEndpoints(app);
        return app;
    }

    /// <summary>Command-line arguments for <see cref="Build"/> that serve <paramref name="modelPath"/> at <paramref name="urls"/>.</summary>
    public static string[] Arguments(string modelPath, string? urls = null) =>
        urls is null ? [$"--{ModelPathKey}={modelPath}"] : [$"--{ModelPathKey}={modelPath}", $"--{UrlsKey}={urls}"];

    static void AddServices(WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<ServiceOptions>().BindConfiguration(ServiceOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ServiceOptions>, ServiceOptionsValidator>();
        // Kestrel's own limit backs up JsonBody's; a body over it surfaces as BadHttpRequestException, mapped to 400.
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<ServiceOptions>>((kestrel, options) =>
            kestrel.Limits.MaxRequestBodySize = options.Value.MaxRequestBodyBytes);

        services.AddSingleton<PolicyHost>();
        services.AddHostedService<ModelWatcher>();
        services.AddSorterHealthChecks();

        services.ConfigureHttpJsonOptions(json => json.SerializerOptions.TypeInfoResolverChain.Insert(0, ServiceJsonContext.Default));
        services.AddProblemDetails();
        services.AddExceptionHandler<ProblemExceptionHandler>();
        services.AddOpenApi();

        // Per-request logs cost more than the inference here; keep them off unless configuration asks for them.
        if (builder.Configuration["Logging:LogLevel:Microsoft.AspNetCore"] is null)
            builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
    }

    static void MapEndpoints(WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();

        app.MapSort();
        app.MapSample();
        app.MapModel();
        app.MapHealth();
        app.MapOpenApi();
    }
}
