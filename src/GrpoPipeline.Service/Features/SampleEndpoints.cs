using GrpoPipeline.Inference;
using GrpoPipeline.Inference.Hosting;
using GrpoPipeline.Service.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace GrpoPipeline.Service.Features;

/// <summary><c>POST /v1/sample</c>: draws responses the way the trainer's rollouts do.</summary>
static class SampleEndpoints
{
    public static void MapSample(this IEndpointRouteBuilder routes) =>
        routes.MapPost("/sample", Sample)
            .WithTags("Sample")
            .WithName("Sample")
            .WithSummary("Draw n responses to a prompt at a temperature; the same seed gives the same responses")
            .WithJsonBody<SampleRequest>();

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
            var rewards = lease.Policy.Contract.HasRewards ? responses.Select(r => lease.Policy.Contract.Rewards(request.Prompt, r)!).ToArray() : null;
            var truncated = responses.Select(r => lease.Policy.Contract.IsTruncated(r)).ToArray();
            return TypedResults.Ok(new SampleResponse(responses, rewards, truncated, seed));
        }
    }
}
