using GrpoPipeline.Service;

ServiceApp.Build(args).Run();

/// <summary>The service's entry point; public so tests can host it with WebApplicationFactory.</summary>
public partial class Program;
