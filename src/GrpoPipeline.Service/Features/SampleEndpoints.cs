using GrpoPipeline.Core;
using GrpoPipeline.Service.Hosting;
using GrpoPipeline.Service.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace GrpoPipeline.Service.Features;

/// <summary><c>POST /v1/sample</c>: draws responses the way the trainer's rollouts do.</summary>
public static class SampleEndpoints
{
    public static RouteGroupBuilder MapSample(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/v1/sample").WithTags("Sample");
        group.MapPost("", Sample)
            .WithName("Sample")
            .WithSummary("Draw n responses to a prompt at a temperature; the same seed gives the same responses")
            .WithJsonBody<SampleRequest>()
            .ProducesProblem(StatusCodes.Status400BadRequest);
        return group;
    }

    static async Task<Results<Ok<SampleResponse>, ProblemHttpResult>> Sample(HttpContext context, PolicyHost host)
    {
        var body = await JsonBody.ReadAsync<SampleRequest>(context);
        if (body.Problem is { } problem) return problem;
        var request = body.Value!;
        ulong seed = request.Seed ?? (ulong)Random.Shared.NextInt64(long.MaxValue);

        if (!host.TryAcquire(out var lease)) return Problems.NoModel();
        using (lease)
        {
            if (Problems.PromptProblem(request.Prompt, lease.Policy, "prompt") is { } detail) return Problems.BadRequest(detail);
            var responses = lease.Policy.Sample(request.Prompt, request.N, request.Temperature ?? 1.0, seed);
            var rewards = new int[responses.Length];
            for (int i = 0; i < responses.Length; i++) rewards[i] = SortingRewards.InclusionOrdering(request.Prompt, responses[i]);
            return TypedResults.Ok(new SampleResponse(responses, rewards, seed));
        }
    }
}
