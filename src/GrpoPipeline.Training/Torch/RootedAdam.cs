using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GrpoPipeline.Training;

/// <summary>
/// TorchSharp's <see cref="Adam"/> with a step whose Scalars live until it returns. Adam's own step passes temporaries
/// (<c>mul_(beta1)</c>, <c>/ Math.Sqrt(…)</c>, <c>add_(eps)</c>) that a collection on another thread can finalize
/// mid-call (see <see cref="Scalars"/>); it was where the transformer's crashes under collections happened. The update is
/// TorchSharp 0.107's, operation for operation, so a run's numbers do not change; the state and its saved format are
/// Adam's own, so every checkpoint written before still loads.
/// </summary>
public sealed class RootedAdam(IEnumerable<Parameter> parameters, double learningRate) : Adam(parameters, learningRate)
{
    /// <summary>
    /// One update. C# binds <c>optimizer.step()</c> to Adam's declaration, which the analyzer rejects; this name is the
    /// one to call, and the override below makes a call through the base class take the same path.
    /// </summary>
    public Tensor Step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var options = (Options)group.Options;
        double beta1 = options.beta1!.Value, beta2 = options.beta2!.Value, eps = options.eps!.Value;
        double weightDecay = options.weight_decay!.Value, learningRate = options.LearningRate!.Value;
        bool amsgrad = options.amsgrad!.Value, maximize = options.maximize!.Value;
        using var s = new ScalarScope();
        Scalar decay1 = s[beta1], rest1 = s[1 - beta1], decay2 = s[beta2], rest2 = s[1 - beta2], epsilon = s[eps];

        foreach (var param in group.Parameters)
        {
            var state = (State)_state[param.Handle];
            var grad = param.grad;
            if (grad is null) continue;
            if (maximize) grad = -grad;
            state.step += 1;
            double biasCorrection1 = 1 - Math.Pow(beta1, state.step);
            double biasCorrection2 = 1 - Math.Pow(beta2, state.step);
            if (weightDecay != 0) grad = grad.add(param, alpha: s[weightDecay]);

            state.exp_avg.mul_(decay1).add_(grad, alpha: rest1);
            state.exp_avg_sq.mul_(decay2).addcmul_(grad, grad.conj(), value: rest2);
            Tensor denominator;
            if (amsgrad)
            {
                var previous = state.max_exp_avg_sq;
                state.max_exp_avg_sq = maximum(previous, state.exp_avg_sq).DetachFromDisposeScope();
                previous.Dispose();
                denominator = (state.max_exp_avg_sq.sqrt() / s[Math.Sqrt(biasCorrection2)]).add_(epsilon, Scalars.One);
            }
            else denominator = (state.exp_avg_sq.sqrt() / s[Math.Sqrt(biasCorrection2)]).add_(epsilon, Scalars.One);
            param.addcdiv_(state.exp_avg, denominator, value: s[-(learningRate / biasCorrection1)]);
        }
    }, closure);

    /// <inheritdoc cref="Step"/>
    public override Tensor step(Func<Tensor>? closure = null) => Step(closure);
}
