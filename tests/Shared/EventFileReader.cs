using System.Buffers.Binary;
using System.Text;

namespace GrpoPipeline.Tests;

/// <summary>One decoded TensorBoard <c>Event</c>: only the fields a training run writes.</summary>
sealed record TensorBoardEvent(double WallTime, long Step, string? FileVersion, int? SessionStatus, IReadOnlyList<(string Tag, float Value)> Scalars)
{
    public const int SessionStart = 1;   // SessionLog.SessionStatus.START
}

/// <summary>
/// Reads TensorBoard event files with no TensorBoard code: TFRecord framing with both CRCs checked, and the Event
/// protobuf decoded by hand, so the tests hold the writer to the format rather than to itself.
/// </summary>
static class EventFileReader
{
    /// <summary>Reads and decodes every record; throws <see cref="InvalidDataException"/> on a bad CRC or a torn record.</summary>
    public static List<TensorBoardEvent> Read(string path) => ReadRecords(File.ReadAllBytes(path)).Select(Decode).ToList();

    /// <summary>
    /// TFRecord framing (tensorflow/core/lib/io/record_writer.h): u64 length, u32 masked CRC32C of the 8 length bytes,
    /// the data, u32 masked CRC32C of the data; all little-endian.
    /// </summary>
    public static List<byte[]> ReadRecords(byte[] file) => ReadRecords(file, tolerateTornEnd: false);

    /// <summary>
    /// The records of a file whose writer may have been killed mid-record: every complete record (CRCs checked), and
    /// whether the file ends in a torn one, which TensorBoard's own reader also stops at.
    /// </summary>
    public static (List<TensorBoardEvent> Events, bool TornEnd) ReadUntilTear(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var records = ReadRecords(bytes, tolerateTornEnd: true);
        return (records.Select(Decode).ToList(), records.Sum(r => r.Length + 16) < bytes.Length);
    }

    static List<byte[]> ReadRecords(byte[] file, bool tolerateTornEnd)
    {
        var records = new List<byte[]>();
        int offset = 0;
        while (offset < file.Length)
        {
            bool complete = file.Length - offset >= 12
                && BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(offset, 8)) <= (ulong)(file.Length - offset - 16);
            if (!complete && tolerateTornEnd) break;
            if (file.Length - offset < 12) throw new InvalidDataException($"torn record header at byte {offset}");
            var lengthBytes = file.AsSpan(offset, 8);
            ulong length = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
            uint lengthCrc = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(offset + 8, 4));
            if (lengthCrc != MaskedCrc32C(lengthBytes))
                throw new InvalidDataException($"length CRC mismatch in the record at byte {offset}");
            if (length > (ulong)(file.Length - offset - 16)) throw new InvalidDataException($"torn record at byte {offset}: {length} bytes announced");
            var data = file.AsSpan(offset + 12, (int)length);
            uint dataCrc = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(offset + 12 + (int)length, 4));
            if (dataCrc != MaskedCrc32C(data))
                throw new InvalidDataException($"data CRC mismatch in the record at byte {offset}");
            records.Add(data.ToArray());
            offset += 16 + (int)length;
        }
        return records;
    }

    /// <summary>CRC-32C (Castagnoli), reflected polynomial 0x82F63B78, bit by bit: slow and obviously right.</summary>
    public static uint Crc32C(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFFu;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int bit = 0; bit < 8; bit++)
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
        }
        return ~crc;
    }

    /// <summary>TFRecord's mask: rotate right by 15 bits, add 0xa282ead8.</summary>
    public static uint MaskedCrc32C(ReadOnlySpan<byte> data)
    {
        uint crc = Crc32C(data);
        return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
    }

    /// <summary>
    /// tensorflow/core/util/event.proto and core/framework/summary.proto: Event { double wall_time = 1; int64 step = 2;
    /// oneof what { string file_version = 3; Summary summary = 5; SessionLog session_log = 7; … } },
    /// Summary { repeated Value value = 1; }, Summary.Value { string tag = 1; float simple_value = 2; … },
    /// SessionLog { SessionStatus status = 1; … }.
    /// </summary>
    public static TensorBoardEvent Decode(byte[] data)
    {
        double wallTime = 0;
        long step = 0;
        string? fileVersion = null;
        int? status = null;
        var scalars = new List<(string, float)>();
        foreach (var field in Fields(data))
            switch (field.Number)
            {
                case 1: wallTime = BitConverter.Int64BitsToDouble((long)field.Fixed); break;
                case 2: step = (long)field.Varint; break;
                case 3: fileVersion = Encoding.UTF8.GetString(field.Bytes); break;
                case 5:
                    foreach (var value in Fields(field.Bytes).Where(f => f.Number == 1))
                    {
                        string? tag = null;
                        float? simple = null;
                        foreach (var part in Fields(value.Bytes))
                            if (part.Number == 1) tag = Encoding.UTF8.GetString(part.Bytes);
                            else if (part.Number == 2) simple = BitConverter.Int32BitsToSingle((int)part.Fixed);
                        if (tag is not null && simple is { } v) scalars.Add((tag, v));
                    }
                    break;
                case 7: status = Fields(field.Bytes).Where(f => f.Number == 1).Select(f => (int)f.Varint).DefaultIfEmpty(0).Last(); break;
            }
        return new TensorBoardEvent(wallTime, step, fileVersion, status, scalars);
    }

    readonly record struct Field(int Number, ulong Varint, ulong Fixed, byte[] Bytes);

    /// <summary>The fields of a protobuf message, in order; wire types 0 (varint), 1 (64-bit), 2 (bytes), 5 (32-bit).</summary>
    static IEnumerable<Field> Fields(byte[] message)
    {
        int i = 0;
        while (i < message.Length)
        {
            ulong key = ReadVarint(message, ref i);
            int number = (int)(key >> 3);
            switch ((int)(key & 7))
            {
                case 0: yield return new Field(number, ReadVarint(message, ref i), 0, []); break;
                case 1: yield return new Field(number, 0, BinaryPrimitives.ReadUInt64LittleEndian(message.AsSpan(i, 8)), []); i += 8; break;
                case 2:
                    int length = (int)ReadVarint(message, ref i);
                    yield return new Field(number, 0, 0, message.AsSpan(i, length).ToArray());
                    i += length;
                    break;
                case 5: yield return new Field(number, 0, BinaryPrimitives.ReadUInt32LittleEndian(message.AsSpan(i, 4)), []); i += 4; break;
                default: throw new InvalidDataException($"unsupported wire type {key & 7} for field {number}");
            }
        }
    }

    static ulong ReadVarint(byte[] buffer, ref int i)
    {
        ulong value = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = buffer[i++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
    }
}
