using System.Buffers.Binary;

namespace Containers.Runtime.Cgroups;

/// <summary>
/// cgroup v2's device control: an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE attached to the container's
/// group, which the kernel runs at every open and mknod of a device node (v2 has no devices controller). The program
/// allows what a rule allows (the rules are devices.allow's, <c>c 1:3 rwm</c>) and refuses the rest, as runc's
/// device filter does. Attached without flags, so attaching again replaces it.
/// </summary>
internal static class DeviceFilter
{
    private const int BpfProgLoad = 5, BpfProgAttach = 8, ProgTypeCgroupDevice = 15, AttachCgroupDevice = 6;
    private const byte LdxMemW = 0x61, Alu64AndK = 0x57, Alu64RshK = 0x77, Alu64MovK = 0xb7, Alu64MovX = 0xbf, JneK = 0x55, JneX = 0x5d, Exit = 0x95;

    /// <summary>runc's default allow-list: the nodes a container gets, ptys, and mknod of anything (but no access).</summary>
    public static readonly string[] DefaultRules =
        ["c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm"];

    private readonly record struct Insn(byte Code, byte Dst, byte Src, short Off, int Imm);

    /// <summary>The program for <paramref name="rules"/> (TYPE MAJOR:MINOR ACCESS, TYPE a, b or c, numbers or *), as bpf_insn bytes.</summary>
    public static byte[] Compile(IEnumerable<string> rules)
    {
        var code = new List<Insn>
        {
            new(LdxMemW, 2, 1, 0, 0), // r2 = ctx->access_type
            new(Alu64MovX, 3, 2, 0, 0),
            new(Alu64AndK, 2, 0, 0, 0xffff), // r2 = device type (1 block, 2 char)
            new(Alu64RshK, 3, 0, 0, 16), // r3 = access (1 mknod, 2 read, 4 write)
            new(LdxMemW, 4, 1, 4, 0), // r4 = major
            new(LdxMemW, 5, 1, 8, 0), // r5 = minor
        };
        foreach (var rule in rules)
        {
            var parts = rule.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var numbers = parts[1].Split(':');
            var block = new List<Insn>();
            if (parts[0] != "a")
            {
                block.Add(new(JneK, 2, 0, 0, parts[0] == "b" ? 1 : 2));
            }

            int access = (parts[2].Contains('m', StringComparison.Ordinal) ? 1 : 0) | (parts[2].Contains('r', StringComparison.Ordinal) ? 2 : 0) | (parts[2].Contains('w', StringComparison.Ordinal) ? 4 : 0);
            if (access != 7)
            {
                // every access asked for must be among the rule's
                block.Add(new(Alu64MovX, 1, 3, 0, 0));
                block.Add(new(Alu64AndK, 1, 0, 0, access));
                block.Add(new(JneX, 1, 3, 0, 0));
            }

            if (parts[0] != "a" && numbers[0] != "*")
            {
                block.Add(new(JneK, 4, 0, 0, int.Parse(numbers[0], CultureInfo.InvariantCulture)));
            }

            if (parts[0] != "a" && numbers[1] != "*")
            {
                block.Add(new(JneK, 5, 0, 0, int.Parse(numbers[1], CultureInfo.InvariantCulture)));
            }

            block.Add(new(Alu64MovK, 0, 0, 0, 1));
            block.Add(new(Exit, 0, 0, 0, 0));
            // each failed test jumps to the next rule: past the rest of this block
            for (int i = 0; i < block.Count; i++)
            {
                if (block[i].Code is JneK or JneX)
                {
                    block[i] = block[i] with { Off = (short)(block.Count - i - 1) };
                }
            }

            code.AddRange(block);
        }

        code.Add(new(Alu64MovK, 0, 0, 0, 0));
        code.Add(new(Exit, 0, 0, 0, 0));
        var bytes = new byte[code.Count * 8];
        for (int i = 0; i < code.Count; i++)
        {
            var span = bytes.AsSpan(i * 8, 8);
            span[0] = code[i].Code;
            span[1] = (byte)(code[i].Dst | (code[i].Src << 4));
            BinaryPrimitives.WriteInt16LittleEndian(span[2..], code[i].Off);
            BinaryPrimitives.WriteInt32LittleEndian(span[4..], code[i].Imm);
        }

        return bytes;
    }

    /// <summary>BPF_PROG_LOAD of a cgroup device program; with <paramref name="log"/>, the verifier writes its reasoning there.</summary>
    private static unsafe int Load(ISyscalls sys, byte[] program, byte[]? log)
    {
        var license = "Apache\0"u8.ToArray();
        fixed (byte* insns = program, lic = license, logBuf = log)
        {
            var attr = new byte[128];
            BinaryPrimitives.WriteUInt32LittleEndian(attr.AsSpan(0), ProgTypeCgroupDevice);
            BinaryPrimitives.WriteUInt32LittleEndian(attr.AsSpan(4), (uint)(program.Length / 8));
            BinaryPrimitives.WriteUInt64LittleEndian(attr.AsSpan(8), (ulong)insns);
            BinaryPrimitives.WriteUInt64LittleEndian(attr.AsSpan(16), (ulong)lic);
            if (log is not null)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(attr.AsSpan(24), 1);
                BinaryPrimitives.WriteUInt32LittleEndian(attr.AsSpan(28), (uint)log.Length);
                BinaryPrimitives.WriteUInt64LittleEndian(attr.AsSpan(32), (ulong)logBuf);
            }

            return sys.Bpf(BpfProgLoad, attr);
        }
    }

    /// <summary>Loads the program of <paramref name="rules"/> and attaches it to the v2 group <paramref name="dir"/>, replacing the one there.</summary>
    public static void Attach(ISyscalls sys, string dir, IEnumerable<string> rules)
    {
        var program = Compile(rules);
        int prog;
        try
        {
            prog = Load(sys, program, null);
        }
        catch (SyscallException e)
        {
            // again with the verifier's log, to say why (a log too small for what it writes fails the load itself)
            var log = new byte[1 << 16];
            try
            {
                Load(sys, program, log);
            }
            catch (SyscallException)
            {
            }

            var why = System.Text.Encoding.UTF8.GetString(log).TrimEnd('\0').Trim();
            throw new ContainerException($"cgroup v2 device filter for {dir}: the kernel refused the program ({e.Message}){(why.Length > 0 ? ": " + why : "")}", e);
        }

        int group = -1;
        try
        {
            group = sys.Open(dir, 0x10000 | 0x80000); // O_DIRECTORY | O_CLOEXEC
            var attach = new byte[20];
            BinaryPrimitives.WriteUInt32LittleEndian(attach.AsSpan(0), (uint)group);
            BinaryPrimitives.WriteUInt32LittleEndian(attach.AsSpan(4), (uint)prog);
            BinaryPrimitives.WriteUInt32LittleEndian(attach.AsSpan(8), AttachCgroupDevice);
            sys.Bpf(BpfProgAttach, attach);
        }
        finally
        {
            if (group >= 0)
            {
                sys.Close(group);
            }

            sys.Close(prog); // the attachment holds the program
        }
    }
}
