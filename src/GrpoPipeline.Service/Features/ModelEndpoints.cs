using GrpoPipeline.Core;
using GrpoPipeline.Service.Hosting;
using GrpoPipeline.Service.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace GrpoPipeline.Service.Features;

/// <summary><c>GET /v1/model</c>: what is being served.</summary>
public static class ModelEndpoints
{
    public static RouteGroupBuilder MapModel(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/v1/model").WithTags("Model");
        group.MapGet("", GetModel)
            .WithName("GetModel")
            .WithSummary("The served model's ONNX contract, shape, metadata and reload state");
        return group;
    }

    static Results<Ok<ModelInfo>, ProblemHttpResult> GetModel(PolicyHost host, IOptions<ServiceOptions> options)
    {
        if (!host.TryAcquire(out var lease)) return Problems.NoModel();
        using (lease)
        {
            var model = lease.Model;
            var policy = model.Policy;
            string length = policy.PromptLength.ToString(), vocab = policy.VocabSize.ToString();
            var contract = new ModelContract(
                [new TensorInfo(OnnxContract.PromptsInput, ElementType(OnnxContract.TokenType), [OnnxContract.BatchDim, length])],
                [
                    new TensorInfo(OnnxContract.LogitsOutput, ElementType(OnnxContract.LogitType), [OnnxContract.BatchDim, length, vocab]),
                    new TensorInfo(OnnxContract.ResponseOutput, ElementType(OnnxContract.TokenType), [OnnxContract.BatchDim, length]),
                ],
                OnnxContract.Opset);
            var rejection = host.LastRejection;
            var reload = new ReloadInfo(options.Value.HotReload, host.Reloads, host.Rejections, rejection?.At, rejection?.Reason);
            return TypedResults.Ok(new ModelInfo(policy.Path, model.LoadedAt, model.Generation, policy.PromptLength, policy.VocabSize,
                policy.PolicyKind, policy.RunName, policy.Epoch, contract, policy.Metadata, reload));
        }
    }

    static string ElementType(Type type) =>
        type == typeof(long) ? "int64" : type == typeof(float) ? "float32" : type.Name.ToLowerInvariant();
}
