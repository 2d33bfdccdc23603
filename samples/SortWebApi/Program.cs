// An empty ASP.NET Core app that serves the sorter API: POST /v1/sort, /v1/sort/batch, /v1/sample, GET /v1/model.
//   dotnet run --project samples/SortWebApi -- --Sorter:ModelPath=models/transformer-l5v10.onnx
var builder = WebApplication.CreateBuilder(args);
builder.Services.AddSorterApi(builder.Configuration);   // the "Sorter" section: ModelPath, ApiKeys, RateLimit, Metrics, ...

var app = builder.Build();
app.MapSorterApi();
app.Run();
