namespace GrpoPipeline.Training.Tests;

/// <summary>
/// The Scalars of test expressions (<c>t * K[0.3]</c>): owned by a scope that lives as long as the test process, so none
/// can be finalized during a native call (see <see cref="Scalars"/>).
/// </summary>
static class TestScalars
{
    public static readonly ScalarScope K = new();
}
