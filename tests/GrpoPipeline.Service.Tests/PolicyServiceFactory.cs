using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Logging;

namespace GrpoPipeline.Service.Tests;

/// <summary>
/// <c>grpo serve</c>'s app (<see cref="ServiceApp.Build"/>) on an in-memory test server, serving
/// <paramref name="modelPath"/> with optional extra settings (<c>Policy:*</c> keys). Like a real start, the first
/// <see cref="CreateClient"/> starts it: a bad setting or model throws there.
/// </summary>
sealed class PolicyServiceFactory(string modelPath, IReadOnlyDictionary<string, string>? settings = null) : IDisposable
{
    WebApplication? _app;

    public LogSink Logs { get; } = new();

    public IServiceProvider Services => Start().Services;

    /// <summary>The host behind the API: its model, reloads and queue.</summary>
    public GrpoPipeline.Inference.Hosting.PolicyHost Host => Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<GrpoPipeline.Inference.Hosting.PolicyHost>(Services);

    public HttpClient CreateClient() => Start().GetTestClient();

    WebApplication Start()
    {
        if (_app is not null) return _app;
        var args = new List<string> { $"--{ServiceApp.ModelPathKey}={modelPath}" };
        args.AddRange((settings ?? new Dictionary<string, string>()).Select(kv => $"--{kv.Key}={kv.Value}"));
        var app = ServiceApp.Build([.. args], builder =>
        {
            builder.WebHost.UseTestServer();
            builder.Logging.AddProvider(Logs);
        });
        try { app.StartAsync().GetAwaiter().GetResult(); }
        catch
        {
            ((IDisposable)app).Dispose();
            throw;
        }
        return _app = app;
    }

    public void Dispose()
    {
        if (_app is null) return;
        _app.StopAsync().GetAwaiter().GetResult();
        ((IDisposable)_app).Dispose();
    }
}

/// <summary>Keeps every log line so tests can check what the service reported.</summary>
sealed class LogSink : ILoggerProvider
{
    public ConcurrentQueue<(string Category, LogLevel Level, string Message)> Entries { get; } = new();

    public bool Contains(string text) => Entries.Any(e => e.Message.Contains(text, StringComparison.Ordinal));

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose() { }

    sealed class Logger(LogSink sink, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) sink.Entries.Enqueue((category, logLevel, formatter(state, exception)));
        }
    }
}

/// <summary>Small helpers over the service's JSON.</summary>
static class Api
{
    public static async Task<JsonElement> Json(this HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();

    public static Task<HttpResponseMessage> PostJson(this HttpClient client, string path, object body) =>
        client.PostAsJsonAsync(path, body);

    public static long[] Longs(this JsonElement array) => array.EnumerateArray().Select(e => e.GetInt64()).ToArray();

    public static long[][] Rows(this JsonElement array) => array.EnumerateArray().Select(Longs).ToArray();

    public static async Task<JsonElement> Model(this HttpClient client)
    {
        using var response = await client.GetAsync("/v1/model");
        response.EnsureSuccessStatusCode();
        return await response.Json();
    }

    /// <summary>Polls until <paramref name="condition"/> holds for <c>GET /v1/model</c>, or the timeout passes.</summary>
    public static async Task<JsonElement> WaitForModel(this HttpClient client, Func<JsonElement, bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var model = await client.Model();
            if (condition(model) || DateTime.UtcNow > deadline) return model;
            await Task.Delay(50);
        }
    }
}
