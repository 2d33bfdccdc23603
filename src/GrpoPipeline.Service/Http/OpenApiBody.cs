using Microsoft.OpenApi;

namespace GrpoPipeline.Service.Http;

static class OpenApiBody
{
    /// <summary>
    /// Documents a JSON request body that the handler reads itself (<see cref="JsonBody"/>). Unlike
    /// <c>Accepts&lt;T&gt;</c> this adds no content-type metadata, so routing never answers a wrong content type
    /// with a bare 415: the handler answers it with a 415 problem that says what was expected.
    /// </summary>
    public static RouteHandlerBuilder WithJsonBody<T>(this RouteHandlerBuilder builder) =>
        builder.AddOpenApiOperationTransformer(async (operation, context, cancellationToken) =>
        {
            var schema = await context.GetOrCreateSchemaAsync(typeof(T), null, cancellationToken);
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = true,
                Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() { Schema = schema } },
            };
        });
}
