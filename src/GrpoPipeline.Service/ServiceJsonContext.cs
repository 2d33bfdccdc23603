using System.Text.Json;
using System.Text.Json.Serialization;
using GrpoPipeline.Service.Features;

namespace GrpoPipeline.Service;

/// <summary>Source-generated serializers for the API's bodies: no reflection on the request path.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(SortRequest))]
[JsonSerializable(typeof(SortResponse))]
[JsonSerializable(typeof(BatchSortRequest))]
[JsonSerializable(typeof(BatchSortResponse))]
[JsonSerializable(typeof(SampleRequest))]
[JsonSerializable(typeof(SampleResponse))]
[JsonSerializable(typeof(ModelInfo))]
public sealed partial class ServiceJsonContext : JsonSerializerContext;
