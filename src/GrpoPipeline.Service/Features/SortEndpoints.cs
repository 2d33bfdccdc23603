using GrpoPipeline.Inference;
using GrpoPipeline.Inference.Hosting;
using GrpoPipeline.Service.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace GrpoPipeline.Service.Features;

/// <summary>
/// <c>POST /v1/sort</c> and <c>POST /v1/sort/batch</c>: greedy responses and their rewards. A batch to a decoder may
/// mix prompt lengths; it is decoded in one loop.
/// </summary>
static class SortEndpoints
{
    public static void MapSort(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/sort").WithTags("Sort");
        group.MapPost("", Sort)
            .WithName("Sort")
            .WithSummary("Sort one prompt with the model's greedy response")
            .WithJsonBody<SortRequest>();
        group.MapPost("/batch", SortBatch)
            .WithName("SortBatch")
            .WithSummary("Sort a batch of prompts in one inference")
            .WithJsonBody<BatchSortRequest>();
    }

    static async Task<Results<Ok<SortResponse>, ProblemHttpResult>> Sort(HttpContext context, SorterPolicyHost host)
    {
        var body = await JsonBody.ReadAsync<SortRequest>(context);
        if (body.Problem is { } problem) return problem;
        var prompt = body.Value!.Prompt;

        if (!host.TryAcquire(out var lease)) return Problems.NoModel();
        using (lease)
        {
            // Checked against the leased model: after a reload the accepted prompts may differ from the last request's.
            if (Problems.PromptProblem(prompt, lease.Policy, "prompt") is { } detail) return Problems.BadRequest(detail);
            var response = lease.Policy.Sort(prompt);
            return TypedResults.Ok(new SortResponse(response, SortScore.Of(prompt, response), lease.Policy.Contract.IsTruncated(response)));
        }
    }

    static async Task<Results<Ok<BatchSortResponse>, ProblemHttpResult>> SortBatch(HttpContext context, SorterPolicyHost host)
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
            var rewards = new SortScore[prompts.Length];
            var truncated = new bool[prompts.Length];
            for (int b = 0; b < prompts.Length; b++)
            {
                rewards[b] = SortScore.Of(prompts[b], responses[b]);
                truncated[b] = lease.Policy.Contract.IsTruncated(responses[b]);
            }
            return TypedResults.Ok(new BatchSortResponse(responses, rewards, truncated));
        }
    }
}
