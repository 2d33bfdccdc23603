using System.Text;

namespace GrpoPipeline.Inference.Tests;

/// <summary>
/// Builds and edits ONNX files at the byte level. The exporter's protobuf classes are internal to Training, so
/// "a different model" is either an exported one with a same-length edit (protobuf stays valid because no length
/// prefix changes) or a tiny graph written field by field from onnx.proto's field numbers.
/// </summary>
static class OnnxBytes
{
    public const int Float = 1, Int64 = 7;   // TensorProto.DataType

    /// <summary>Replaces every occurrence of <paramref name="from"/> by <paramref name="to"/> (same length).</summary>
    public static byte[] ReplaceAll(byte[] model, string from, string to)
    {
        if (from.Length != to.Length) throw new ArgumentException("a same-length edit keeps the protobuf valid");
        var (f, t) = (Encoding.ASCII.GetBytes(from), Encoding.ASCII.GetBytes(to));
        var copy = (byte[])model.Clone();
        int count = 0;
        for (int i = copy.AsSpan().IndexOf(f); i >= 0; i = Next(copy, f, i + f.Length))
        {
            t.CopyTo(copy, i);
            count++;
        }
        if (count == 0) throw new InvalidOperationException($"'{from}' does not occur in the model");
        return copy;
    }

    /// <summary>Rewrites the value of a metadata_props entry whose new value has the same length.</summary>
    public static byte[] ReplaceMetadataValue(byte[] model, string key, string value)
    {
        var keyBytes = Encoding.ASCII.GetBytes(key);
        var copy = (byte[])model.Clone();
        int at = copy.AsSpan().IndexOf(keyBytes);
        if (at < 0) throw new InvalidOperationException($"metadata key '{key}' not found");
        int tag = at + keyBytes.Length;   // StringStringEntryProto.value: field 2, length-delimited, then length, then bytes
        if (copy[tag] != 0x12 || copy[tag + 1] != value.Length)
            throw new InvalidOperationException($"the value of '{key}' is not {value.Length} bytes long");
        Encoding.ASCII.GetBytes(value).CopyTo(copy, tag + 2);
        return copy;
    }

    static int Next(byte[] data, byte[] pattern, int from)
    {
        int i = data.AsSpan(from).IndexOf(pattern);
        return i < 0 ? -1 : from + i;
    }

    /// <summary>A valid one-node Identity model: <paramref name="input"/> → <paramref name="output"/>.</summary>
    public static byte[] IdentityModel(string input, string output, int elementType, long length,
        params (string Key, string Value)[] metadata)
    {
        var graph = new Proto()
            .Message(1, new Proto().String(1, input).String(2, output).String(3, "identity").String(4, "Identity"))
            .String(2, "not_a_sorter")
            .Message(11, ValueInfo(input, elementType, length))
            .Message(12, ValueInfo(output, elementType, length));
        var model = new Proto()
            .Varint(1, 8)                                              // ir_version
            .String(2, "GrpoPipeline.Inference.Tests")                 // producer_name
            .Message(7, graph)
            .Message(8, new Proto().String(1, "").Varint(2, 17));     // opset_import
        foreach (var (key, value) in metadata)
            model.Message(14, new Proto().String(1, key).String(2, value));
        return model.ToArray();
    }

    /// <summary>ValueInfoProto of a tensor [batch, length].</summary>
    static Proto ValueInfo(string name, int elementType, long length)
    {
        var shape = new Proto()
            .Message(1, new Proto().String(2, "batch"))
            .Message(1, new Proto().Varint(1, length));
        var tensor = new Proto().Varint(1, elementType).Message(2, shape);
        return new Proto().String(1, name).Message(2, new Proto().Message(1, tensor));
    }

    /// <summary>The protobuf wire format, just enough of it: varints and length-delimited fields.</summary>
    sealed class Proto
    {
        readonly MemoryStream _bytes = new();

        public Proto Varint(int field, long value)
        {
            Key(field, 0);
            WriteVarint((ulong)value);
            return this;
        }

        public Proto String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public Proto Message(int field, Proto message) => Bytes(field, message.ToArray());

        Proto Bytes(int field, byte[] value)
        {
            Key(field, 2);
            WriteVarint((ulong)value.Length);
            _bytes.Write(value);
            return this;
        }

        public byte[] ToArray() => _bytes.ToArray();

        void Key(int field, int wireType) => WriteVarint((ulong)(field << 3 | wireType));

        void WriteVarint(ulong value)
        {
            for (; value >= 0x80; value >>= 7) _bytes.WriteByte((byte)(value | 0x80));
            _bytes.WriteByte((byte)value);
        }
    }
}
