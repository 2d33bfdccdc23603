using GrpoPipeline.Service.Http;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;

namespace GrpoPipeline.Service;

/// <summary>
/// The app <c>grpo serve</c> runs, made of the same public extensions any app uses:
/// <c>AddGrpoApi</c> + <c>MapGrpoApi</c>, readiness from <c>AddPolicyModelCheck</c> at <c>/health/ready</c>,
/// liveness at <c>/health/live</c>, the OpenAPI document at <c>/openapi/v1.json</c>, and Prometheus metrics at
/// <c>/metrics</c> (on unless <c>Policy:Metrics=false</c>). It listens on <see cref="DefaultUrls"/> unless told
/// otherwise.
/// </summary>
public static class ServiceApp
{
    /// <summary>Loopback only: exposing the API is a decision, made with <c>--urls</c>.</summary>
    public const string DefaultUrls = "http://127.0.0.1:5080";
    /// <summary>Configuration key of the model file.</summary>
    public const string ModelPathKey = "Policy:ModelPath";
    /// <summary>Configuration key of the listening URLs (ASP.NET Core's own).</summary>
    public const string UrlsKey = "urls";

    /// <summary>
    /// A ready-to-run app. <paramref name="args"/> are configuration (e.g. <c>--Policy:ModelPath=m.onnx</c>);
    /// <paramref name="configure"/> runs after the service's registrations and can add configuration or replace
    /// services (tests use it to host on a test server).
    /// </summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            // Defaults that the command line, environment or appsettings override.
            [UrlsKey] = builder.Configuration[UrlsKey] ?? DefaultUrls,
            ["Policy:Metrics"] = builder.Configuration["Policy:Metrics"] ?? "true",
        });
        builder.Services.AddGrpoApi(builder.Configuration);
        builder.Services.AddHealthChecks().AddPolicyModelCheck();
        builder.Services.AddExceptionHandler<ProblemExceptionHandler>();
        // Per-request logs cost more than the inference here; keep them off unless configuration asks for them.
        if (builder.Configuration["Logging:LogLevel:Microsoft.AspNetCore"] is null)
            builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        configure?.Invoke(builder);

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.MapGrpoApi();
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains(PolicyHealthChecksBuilderExtensions.ReadyTag) });
        app.MapOpenApi();
        return app;
    }

    /// <summary>Command-line arguments for <see cref="Build"/> that serve <paramref name="modelPath"/> at <paramref name="urls"/>.</summary>
    public static string[] Arguments(string modelPath, string? urls = null) =>
        urls is null ? [$"--{ModelPathKey}={modelPath}"] : [$"--{ModelPathKey}={modelPath}", $"--{UrlsKey}={urls}"];
}
