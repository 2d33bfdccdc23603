using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace GrpoPipeline.Service.Http;

/// <summary>
/// With <see cref="PolicyApiOptions.ApiKeys"/> configured, lets a request through only when its
/// <c>X-Api-Key</c> header holds one of them; otherwise a 401 problem. Keys are compared by their SHA-256 in constant
/// time, so the comparison leaks neither a key's content nor its length.
/// </summary>
sealed class ApiKeyFilter(IOptions<PolicyApiOptions> options) : IEndpointFilter
{
    readonly byte[][] _keyHashes = options.Value.ApiKeys.Select(Hash).ToArray();

    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (_keyHashes.Length == 0) return next(context);
        var headers = context.HttpContext.Request.Headers[PolicyApiOptions.ApiKeyHeader];
        if (headers.Count == 0 || string.IsNullOrEmpty(headers[0]))
            return ValueTask.FromResult<object?>(Problems.Unauthorized($"this API needs a key: send it in the {PolicyApiOptions.ApiKeyHeader} header"));
        var given = Hash(headers[0]!);
        bool match = false;
        foreach (var key in _keyHashes) match |= CryptographicOperations.FixedTimeEquals(given, key);
        return match
            ? next(context)
            : ValueTask.FromResult<object?>(Problems.Unauthorized($"the {PolicyApiOptions.ApiKeyHeader} header does not hold a valid key"));
    }

    static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));
}
