using System.Runtime.InteropServices;
using Google.Protobuf;
using GrpoPipeline.Core;
using GrpoPipeline.Training.Onnx.Proto;

namespace GrpoPipeline.Training.Onnx;

/// <summary>Small helper over the generated ONNX classes: initializers (raw_data, little-endian), nodes, values.</summary>
sealed class OnnxGraphBuilder(string name)
{
    public GraphProto Graph { get; } = new() { Name = name };

    /// <summary>A float32 initializer; <paramref name="data"/> is row-major for <paramref name="dims"/>.</summary>
    public string Initializer(string name, ReadOnlySpan<float> data, params long[] dims) =>
        AddInitializer(name, TensorProto.Types.DataType.Float, MemoryMarshal.AsBytes(data), data.Length, dims);

    /// <summary>An int64 initializer (e.g. a Reshape target shape).</summary>
    public string Int64Initializer(string name, params long[] values) =>
        AddInitializer(name, TensorProto.Types.DataType.Int64, MemoryMarshal.AsBytes(values.AsSpan()), values.Length, values.Length);

    /// <summary>A 0-d int64 initializer (a Range bound, a Gather index that drops the axis).</summary>
    public string Int64Scalar(string name, long value) =>
        AddInitializer(name, TensorProto.Types.DataType.Int64, MemoryMarshal.AsBytes(new[] { value }.AsSpan()), 1);

    /// <summary>A 0-d float32 initializer (a scalar operand that broadcasts).</summary>
    public string FloatScalar(string name, float value) =>
        AddInitializer(name, TensorProto.Types.DataType.Float, MemoryMarshal.AsBytes(new[] { value }.AsSpan()), 1);

    string AddInitializer(string name, TensorProto.Types.DataType type, ReadOnlySpan<byte> bytes, long count, params long[] dims)
    {
        if (dims.Aggregate(1L, (a, b) => a * b) != count)
            throw new ArgumentException($"initializer '{name}': {count} values do not fill dims [{string.Join(",", dims)}]");
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX raw_data is little-endian");
        var tensor = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(bytes) };
        tensor.Dims.AddRange(dims);
        Graph.Initializer.Add(tensor);
        return name;
    }

    /// <summary>Adds a node and returns its (single) output name.</summary>
    public string Node(string opType, string[] inputs, string output, params AttributeProto[] attributes)
    {
        Node(opType, inputs, [output], attributes);
        return output;
    }

    /// <summary>Adds a node with several outputs (e.g. Split).</summary>
    public void Node(string opType, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = $"{opType}_{Graph.Node.Count}" };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
    }

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Float(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    /// <summary>
    /// A graph input or output written from its contract description: dimensions fixed by <paramref name="sizes"/>
    /// become numbers, the others (the batch) stay symbolic under their contract name.
    /// </summary>
    public static ValueInfoProto Value(TensorSpec spec, IReadOnlyDictionary<string, long> sizes)
    {
        var shape = new TensorShapeProto();
        var resolved = spec.Resolve(sizes);
        for (int i = 0; i < resolved.Length; i++)
            shape.Dim.Add(resolved[i] is { } size ? new TensorShapeProto.Types.Dimension { DimValue = size }
                                                  : new TensorShapeProto.Types.Dimension { DimParam = spec.Dimensions[i] });
        var type = spec.ElementType switch
        {
            TensorElementType.Int64 => TensorProto.Types.DataType.Int64,
            TensorElementType.Float32 => TensorProto.Types.DataType.Float,
            _ => throw new ArgumentOutOfRangeException(nameof(spec), spec.ElementType, "no ONNX data type for this element type"),
        };
        return new ValueInfoProto
        {
            Name = spec.Name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }
}
