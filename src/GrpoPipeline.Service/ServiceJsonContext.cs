using System.Text.Json;
using System.Text.Json.Serialization;
using GrpoPipeline.Service.Features;

namespace GrpoPipeline.Service;

/// <summary>
/// Source-generated serializers for the API's bodies, with the strict options request parsing relies on: names match
/// case-sensitively, unknown and duplicate properties are errors, constructor parameters without a default are
/// required, numbers in strings are refused, and a null is refused where the type does not allow one.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web,
    PropertyNameCaseInsensitive = false,
    AllowDuplicateProperties = false,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    RespectRequiredConstructorParameters = true,
    RespectNullableAnnotations = true,
    NumberHandling = JsonNumberHandling.Strict,   // the Web defaults would read "1" as 1
    MaxDepth = 16)]
[JsonSerializable(typeof(RespondRequest))]
[JsonSerializable(typeof(RespondResponse))]
[JsonSerializable(typeof(BatchRespondRequest))]
[JsonSerializable(typeof(BatchRespondResponse))]
[JsonSerializable(typeof(SampleRequest))]
[JsonSerializable(typeof(SampleResponse))]
[JsonSerializable(typeof(ModelInfo))]
public sealed partial class ServiceJsonContext : JsonSerializerContext;
