using System.Text;
using Containers.Orchestration.Api;

namespace Containers.Tests.Orchestration;

/// <summary>Kubernetes' protobuf request bodies (what kubectl's typed commands send), read into JSON or refused naming what is not understood.</summary>
public sealed class ProtobufTests
{
    private static byte[] Bytes(int field, byte[] value) => [.. Key(field, 2), .. Varint((ulong)value.Length), .. value];

    private static byte[] Bytes(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    private static byte[] Number(int field, ulong value) => [.. Key(field, 0), .. Varint(value)];

    private static byte[] Key(int field, int wire) => Varint((ulong)((field << 3) | wire));

    private static byte[] Varint(ulong v)
    {
        var bytes = new List<byte>();
        do
        {
            byte b = (byte)(v & 0x7f);
            v >>= 7;
            bytes.Add(v == 0 ? b : (byte)(b | 0x80));
        }
        while (v != 0);
        return [.. bytes];
    }

    private static byte[] Envelope(string apiVersion, string kind, byte[] raw) =>
        [.. "k8s\0"u8.ToArray(), .. Bytes(1, [.. Bytes(1, apiVersion), .. Bytes(2, kind)]), .. Bytes(2, raw), .. Bytes(3, ""), .. Bytes(4, "")];

    [Fact]
    public void A_configmap_and_a_service_read_as_their_json()
    {
        // metadata{name, generateName "", labels{app: web}}, data{mode: dev}
        var metadata = Bytes(1, [.. Bytes(1, "settings"), .. Bytes(2, ""), .. Number(7, 0), .. Bytes(11, [.. Bytes(1, "app"), .. Bytes(2, "web")])]);
        var cm = Protobuf.Decode(Envelope("v1", "ConfigMap", [.. metadata, .. Bytes(2, [.. Bytes(1, "mode"), .. Bytes(2, "dev")])]));
        Assert.Equal("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings","labels":{"app":"web"}},"data":{"mode":"dev"}}""", cm.ToJsonString());

        // spec{ports[{protocol TCP, port 80, targetPort{intVal 8080}, nodePort 0}], type NodePort}
        var port = Bytes(1, [.. Bytes(2, "TCP"), .. Number(3, 80), .. Bytes(4, [.. Number(1, 0), .. Number(2, 8080)]), .. Number(5, 0)]);
        var svc = Protobuf.Decode(Envelope("v1", "Service", [.. Bytes(1, Bytes(1, "web")), .. Bytes(2, [.. port, .. Bytes(4, "NodePort")])]));
        Assert.Equal("""{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"ports":[{"protocol":"TCP","port":80,"targetPort":8080}],"type":"NodePort"}}""", svc.ToJsonString());
    }

    [Fact]
    public void What_is_not_understood_is_refused_with_a_415_naming_it()
    {
        var unknown = Assert.Throws<ApiException>(() => Protobuf.Decode(Envelope("v1", "ConfigMap", [.. Bytes(1, Bytes(1, "c")), .. Number(99, 1)])));
        Assert.Equal(415, unknown.Code);
        Assert.Contains("field 99 of ConfigMap", unknown.Message, StringComparison.Ordinal);

        var kind = Assert.Throws<ApiException>(() => Protobuf.Decode(Envelope("policy/v1", "PodDisruptionBudget", Bytes(1, Bytes(1, "j")))));
        Assert.Contains("kind PodDisruptionBudget", kind.Message, StringComparison.Ordinal);

        Assert.Equal(415, Assert.Throws<ApiException>(() => Protobuf.Decode("{}"u8)).Code);
        var truncated = Envelope("v1", "ConfigMap", Bytes(1, Bytes(1, "c")));
        Assert.Equal(415, Assert.Throws<ApiException>(() => Protobuf.Decode(truncated.AsSpan(0, truncated.Length - 9))).Code);
    }
}
