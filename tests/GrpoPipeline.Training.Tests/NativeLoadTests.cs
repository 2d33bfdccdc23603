using NUnit.Framework;
using static TorchSharp.torch;

namespace GrpoPipeline.Training.Tests;

/// <summary>
/// libtorch's native libraries load and run. Before the GLIBCXX_3.4.32 build fix, the first tensor threw
/// a TypeInitializationException, so every other Training test failed for a reason that had nothing to do with it.
/// </summary>
[TestFixture]
public sealed class NativeLoadTests
{
    [Test]
    public void Creating_And_Reducing_A_Tensor_Works()
    {
        using var scope = NewDisposeScope();
        Assert.That(ones(3).sum().item<float>(), Is.EqualTo(3f));
    }

    [Test]
    public void A_Matmul_Runs_In_Native_Code()
    {
        using var scope = NewDisposeScope();
        var a = tensor(new float[] { 1, 2, 3, 4 }, new long[] { 2, 2 });
        var b = tensor(new float[] { 5, 6, 7, 8 }, new long[] { 2, 2 });
        // [[1,2],[3,4]]·[[5,6],[7,8]] = [[19,22],[43,50]]
        Assert.That(a.matmul(b).data<float>().ToArray(), Is.EqualTo(new float[] { 19, 22, 43, 50 }));
    }
}
