using GrpoPipeline.Core;
using GrpoPipeline.Service.Hosting;
using GrpoPipeline.Service.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace GrpoPipeline.Service.Features;

/// <summary><c>POST /v1/sort</c> and <c>POST /v1/sort/batch</c>: greedy responses and their rewards.</summary>
public static class SortEndpoints
{
    public static RouteGroupBuilder MapSort(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/v1/sort").WithTags("Sort");
        group.MapPost("", Sort)
            .WithName("Sort")
            .WithSummary("Sort one prompt with the model's greedy response")
            .WithJsonBody<SortRequest>()
            .ProducesProblem(StatusCodes.Status400BadRequest);
        group.MapPost("/batch", SortBatch)
            .WithName("SortBatch")
            .WithSummary("Sort a batch of prompts in one inference")
            .WithJsonBody<BatchSortRequest>()
            .ProducesProblem(StatusCodes.Status400BadRequest);
        return group;
    }

    static async Task<Results<Ok<SortResponse>, ProblemHttpResult>> Sort(HttpContext context, PolicyHost host)
    {
        var body = await JsonBody.ReadAsync<SortRequest>(context);
        if (body.Problem is { } problem) return problem;
        var prompt = body.Value!.Prompt;

        if (!host.TryAcquire(out var lease)) return Problems.NoModel();
        using (lease)
        {
            // Validated against the leased model: after a reload the shape may differ from the previous request's.
            if (Problems.PromptProblem(prompt, lease.Policy, "prompt") is { } detail) return Problems.BadRequest(detail);
            var response = lease.Policy.Sort(prompt);
            return TypedResults.Ok(new SortResponse(response,
                SortingRewards.InclusionOrdering(prompt, response), SortingRewards.Exact(prompt, response) == 1));
        }
    }

    static async Task<Results<Ok<BatchSortResponse>, ProblemHttpResult>> SortBatch(HttpContext context, PolicyHost host)
    {
        var body = await JsonBody.ReadAsync<BatchSortRequest>(context);
        if (body.Problem is { } problem) return problem;
        var prompts = body.Value!.Prompts;

        if (!host.TryAcquire(out var lease)) return Problems.NoModel();
        using (lease)
        {
            for (int b = 0; b < prompts.Length; b++)
                if (Problems.PromptProblem(prompts[b], lease.Policy, $"prompts[{b}]") is { } detail) return Problems.BadRequest(detail);
            var responses = lease.Policy.SortBatch(prompts);
            var rewards = new int[prompts.Length];
            var exact = new bool[prompts.Length];
            for (int b = 0; b < prompts.Length; b++)
            {
                rewards[b] = SortingRewards.InclusionOrdering(prompts[b], responses[b]);
                exact[b] = SortingRewards.Exact(prompts[b], responses[b]) == 1;
            }
            return TypedResults.Ok(new BatchSortResponse(responses, rewards, exact));
        }
    }
}
