namespace GrpoPipeline.Evaluation;

/// <summary>
/// The evaluation's input is unusable: a bad CSV line, a model without a held-out split, a split that cannot give the
/// prompts asked for, or a run directory without metrics. The message names the file (and line) and the reason.
/// </summary>
public sealed class EvaluationException(string message, Exception? inner = null) : Exception(message, inner);
