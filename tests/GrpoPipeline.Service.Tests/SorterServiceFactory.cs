using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Logging;

namespace GrpoPipeline.Service.Tests;

/// <summary>The service in memory, serving <paramref name="modelPath"/>, with optional extra <c>Sorter:*</c> settings.</summary>
sealed class SorterServiceFactory(string modelPath, IReadOnlyDictionary<string, string>? settings = null) : WebApplicationFactory<Program>
{
    public LogSink Logs { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        builder.UseSetting("Sorter:ModelPath", modelPath);
        foreach (var (key, value) in settings ?? new Dictionary<string, string>()) builder.UseSetting(key, value);
        builder.ConfigureLogging(logging => logging.AddProvider(Logs));
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
