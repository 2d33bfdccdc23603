using GrpoPipeline.Core;
using GrpoPipeline.Inference.Hosting;
using GrpoPipeline.Service.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace GrpoPipeline.Service.Features;

/// <summary><c>GET /v1/model</c>: what is being served, described from the contract the model was checked against.</summary>
static class ModelEndpoints
{
    public static void MapModel(this IEndpointRouteBuilder routes) =>
        routes.MapGet("/model", GetModel)
            .WithTags("Model")
            .WithName("GetModel")
            .WithSummary("The served model's ONNX contract, task, accepted prompts, metadata and reload state");

    static Results<Ok<ModelInfo>, ProblemHttpResult> GetModel(PolicyHost host, IOptions<PolicyModelOptions> options)
    {
        if (!host.TryAcquire(out var lease)) return Problems.NoModel();
        using (lease)
        {
            var model = lease.Model;
            var c = model.Policy.Contract;
            TensorInfo[] Tensors(IEnumerable<TensorSpec> specs) => specs.Select(t => new TensorInfo(t.Name, t.ElementTypeName, t.Shape(c.Sizes))).ToArray();
            var contract = new ContractInfo(c.IsDecoder ? "decoder" : "factorised", c.Version, Tensors(c.Spec.Inputs), Tensors(c.Spec.Outputs), OnnxContract.Opset);
            var rejection = host.LastRejection;
            var reload = new ReloadInfo(options.Value.HotReload, host.Reloads, host.Rejections, rejection?.At, rejection?.Reason);
            var task = new TaskInfo(c.TaskName, c.HasRewards, c.RewardsUnavailable,
                c.Task?.Components.Select(r => new RewardComponentInfo(r.Name, r.Description)).ToArray() ?? [],
                c.Task is { } t ? Enumerable.Range(0, c.VocabSize).Select(v => t.TokenName(v)).ToArray() : []);
            return TypedResults.Ok(new ModelInfo(c.Path, model.LoadedAt, model.Generation, contract, c.Prompts.MinLength, c.Prompts.MaxLength,
                c.MaxResponseLength, c.VocabSize, c.Special, task, c.PolicyKind, c.RunName, c.Epoch, c.Metadata, reload));
        }
    }
}
