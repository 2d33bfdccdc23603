using GrpoPipeline.Core;
using GrpoPipeline.Inference;
using GrpoPipeline.Inference.Hosting;
using GrpoPipeline.Service.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace GrpoPipeline.Service.Features;

/// <summary>
/// <c>POST /v1/respond</c> and <c>POST /v1/respond/batch</c>: greedy responses and their rewards, for a model of any
/// task. Single prompts from concurrent requests are answered together in batched inferences (the host's
/// <see cref="BatchingOptions"/>); a full queue gives 503 with <c>Retry-After</c>. A batch to a decoder may mix prompt
/// lengths; it is decoded in one loop. <c>POST /v1/sort</c> and
/// <c>/v1/sort/batch</c> are the same endpoints under the names of 0.2, for sorting models only.
/// </summary>
static class RespondEndpoints
{
    public static void MapRespond(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/respond").WithTags("Respond");
        group.MapPost("", (HttpContext context, PolicyHost host) => Respond(context, host, sortOnly: false))
            .WithName("Respond")
            .WithSummary("The model's greedy response to one prompt, with its rewards")
            .WithJsonBody<RespondRequest>();
        group.MapPost("/batch", (HttpContext context, PolicyHost host) => RespondBatch(context, host, sortOnly: false))
            .WithName("RespondBatch")
            .WithSummary("Greedy responses to a batch of prompts in one inference, with their rewards")
            .WithJsonBody<BatchRespondRequest>();

        var sort = routes.MapGroup("/sort").WithTags("Sort");
        sort.MapPost("", (HttpContext context, PolicyHost host) => Respond(context, host, sortOnly: true))
            .WithName("Sort")
            .WithSummary("/v1/respond for a sorting model (the 0.2 name); other tasks get 400")
            .WithJsonBody<RespondRequest>();
        sort.MapPost("/batch", (HttpContext context, PolicyHost host) => RespondBatch(context, host, sortOnly: true))
            .WithName("SortBatch")
            .WithSummary("/v1/respond/batch for a sorting model (the 0.2 name); other tasks get 400")
            .WithJsonBody<BatchRespondRequest>();
    }

    static async Task<Results<Ok<RespondResponse>, ProblemHttpResult>> Respond(HttpContext context, PolicyHost host, bool sortOnly)
    {
        var body = await JsonBody.ReadAsync<RespondRequest>(context);
        if (body.Problem is { } problem) return problem;
        var prompt = body.Value!.Prompt;

        if (!host.TryAcquire(out var lease)) return Problems.NoModel();
        using (lease)
        {
            var policy = lease.Policy;
            if (sortOnly && NotSorting(policy) is { } wrongTask) return wrongTask;
            // Checked before queueing, so bad input costs no exception; the batch checks it again against the model it
            // leases, which a reload may have changed.
            if (Problems.PromptProblem(prompt, policy, "prompt") is { } detail) return Problems.BadRequest(detail);
        }
        HostedResponse answer;
        try { answer = await host.RespondAsync(prompt, context.RequestAborted); }
        catch (PolicyOverloadedException e) { return Problems.Overloaded(context, e); }
        catch (ArgumentException e) { return Problems.BadRequest($"'prompt': {e.Message}"); }
        catch (InvalidOperationException) when (!host.IsReady) { return Problems.NoModel(); }
        return TypedResults.Ok(new RespondResponse(answer.Response, answer.Contract.Rewards(prompt, answer.Response), answer.Contract.IsTruncated(answer.Response)));
    }

    static async Task<Results<Ok<BatchRespondResponse>, ProblemHttpResult>> RespondBatch(HttpContext context, PolicyHost host, bool sortOnly)
    {
        var body = await JsonBody.ReadAsync<BatchRespondRequest>(context);
        if (body.Problem is { } problem) return problem;
        var prompts = body.Value!.Prompts;

        if (!host.TryAcquire(out var lease)) return Problems.NoModel();
        using (lease)
        {
            var policy = lease.Policy;
            if (sortOnly && NotSorting(policy) is { } wrongTask) return wrongTask;
            for (int b = 0; b < prompts.Length; b++)
                if (Problems.PromptProblem(prompts[b], policy, $"prompts[{b}]") is { } detail) return Problems.BadRequest(detail);
            var responses = policy.RespondBatch(prompts);
            var rewards = policy.Contract.HasRewards ? new RewardScore[prompts.Length] : null;
            var truncated = new bool[prompts.Length];
            for (int b = 0; b < prompts.Length; b++)
            {
                if (rewards is not null) rewards[b] = policy.Contract.Rewards(prompts[b], responses[b])!;
                truncated[b] = policy.Contract.IsTruncated(responses[b]);
            }
            return TypedResults.Ok(new BatchRespondResponse(responses, rewards, truncated));
        }
    }

    static ProblemHttpResult? NotSorting(IPolicy policy) => policy.Contract.TaskName == SortTask.TaskName ? null
        : Problems.BadRequest($"/v1/sort serves sorting models; this model's task is '{policy.Contract.TaskName}': use /v1/respond");
}
