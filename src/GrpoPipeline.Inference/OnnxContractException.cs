namespace GrpoPipeline.Inference;

/// <summary>The file is not an ONNX model, or not one that follows the GrpoPipeline sorter contract.</summary>
public sealed class OnnxContractException(string message, Exception? inner = null) : Exception(message, inner);
