// An empty ASP.NET Core app that serves the policy API: POST /v1/respond, /v1/respond/batch, /v1/sample, GET /v1/model.
//   dotnet run --project samples/SortWebApi -- --Policy:ModelPath=models/transformer-l5v10.onnx
var builder = WebApplication.CreateBuilder(args);
builder.Services.AddGrpoApi(builder.Configuration);   // the "Policy" section: ModelPath, ApiKeys, RateLimit, Metrics, ...

var app = builder.Build();
app.MapGrpoApi();
app.Run();
