using System.Buffers.Binary;
using Containers.Security;

namespace Containers.Tests.Security;

/// <summary>
/// The compiled filters, checked as the kernel checks classic BPF (every jump inside the program, a return at the
/// end) and run on a small interpreter of seccomp_data: Docker's default profile allows and refuses what Docker's does.
/// </summary>
public sealed class SeccompCompilerTests
{
    private const uint X8664 = 0xC000003E, I386 = 0x40000003;
    private const uint Allow = 0x7fff0000, Eperm = 0x00050001;

    private static (ushort Code, byte Jt, byte Jf, uint K)[] Decode(byte[] bytes) =>
        Enumerable.Range(0, bytes.Length / 8).Select(i => (BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(i * 8)), bytes[i * 8 + 2], bytes[i * 8 + 3], BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(i * 8 + 4)))).ToArray();

    /// <summary>Runs the filter on one system call; fails the test if it jumps outside the program.</summary>
    private static uint Run(byte[] filter, uint arch, int nr, params ulong[] args)
    {
        var program = Decode(filter);
        var data = new byte[64];
        BinaryPrimitives.WriteInt32LittleEndian(data, nr);
        BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(4), arch);
        for (int i = 0; i < args.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(16 + 8 * i), args[i]);
        }

        uint a = 0;
        for (int pc = 0; ; pc++)
        {
            Assert.InRange(pc, 0, program.Length - 1);
            var (code, jt, jf, k) = program[pc];
            switch (code)
            {
                case 0x20: a = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan((int)k)); break;
                case 0x54: a &= k; break;
                case 0x05: pc += (int)k; break;
                case 0x15: pc += a == k ? jt : jf; break;
                case 0x25: pc += a > k ? jt : jf; break;
                case 0x35: pc += a >= k ? jt : jf; break;
                case 0x06: return k;
                default: Assert.Fail($"unknown instruction {code:x} at {pc}"); break;
            }
        }
    }

    private static void AssertValid(byte[] filter)
    {
        var program = Decode(filter);
        Assert.InRange(program.Length, 1, 4096);
        Assert.Equal(0x06, program[^1].Code);
        for (int pc = 0; pc < program.Length; pc++)
        {
            var (code, jt, jf, k) = program[pc];
            if (code == 0x05)
            {
                Assert.InRange(pc + 1 + (long)k, 0, program.Length - 1);
            }
            else if ((code & 0x07) == 0x05)
            {
                Assert.InRange(pc + 1 + jt, 0, program.Length - 1);
                Assert.InRange(pc + 1 + jf, 0, program.Length - 1);
            }
        }
    }

    public static TheoryData<string> CapabilitySets() =>
    [
        "",
        "CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FSETID,CAP_FOWNER,CAP_MKNOD,CAP_NET_RAW,CAP_SETGID,CAP_SETUID,CAP_SETFCAP,CAP_SETPCAP,CAP_NET_BIND_SERVICE,CAP_SYS_CHROOT,CAP_KILL,CAP_AUDIT_WRITE",
        "CAP_SYS_ADMIN",
        string.Join(',', Containers.Runtime.Capabilities.All.Select(c => "CAP_" + c)),
    ];

    [Theory]
    [MemberData(nameof(CapabilitySets))]
    public void The_default_profile_compiles_to_a_valid_program(string capabilities)
    {
        var caps = capabilities.Split(',', StringSplitOptions.RemoveEmptyEntries);
        var filter = SeccompCompiler.Compile(SeccompProfile.Default, caps);
        AssertValid(filter);
        foreach (var (name, nr) in SyscallTables.X8664)
        {
            uint result = Run(filter, X8664, nr, 0, 0, 0, 0, 0, 0);
            Assert.True(result is Allow or Eperm or 0x00050026, $"{name}: {result:x}");
        }
    }

    [Theory]
    [MemberData(nameof(CapabilitySets))]
    public void Every_number_of_every_abi_gets_the_action_of_its_first_rule_or_the_default(string capabilities)
    {
        // the program searches ranges as a tree: each number, in the ranges, between them, beyond the last, decides as
        // the profile says (calls with argument tests are checked by the cases of Default_profile_decisions_match_dockers)
        var caps = capabilities.Split(',', StringSplitOptions.RemoveEmptyEntries);
        var filter = SeccompCompiler.Compile(SeccompProfile.Default, caps);
        var rules = SeccompProfile.Default.Rules(new HashSet<string>(caps, StringComparer.Ordinal), out uint defaultAction);
        foreach (var (arch, table, offset) in new[] { (X8664, SyscallTables.X8664, 0u), (X8664, SyscallTables.X32, 0x40000000u), (I386, SyscallTables.I386, 0u) })
        {
            var byNumber = table.GroupBy(kv => kv.Value).ToDictionary(g => g.Key, g => g.Select(kv => kv.Key).ToHashSet(StringComparer.Ordinal));
            for (uint nr = offset; nr < offset + 1100; nr++)
            {
                var names = byNumber.GetValueOrDefault((int)nr) ?? [];
                var first = rules.FirstOrDefault(r => r.Names.Any(names.Contains));
                if (first is { Args.Count: > 0 })
                {
                    continue;
                }

                Assert.True((first?.Action ?? defaultAction) == Run(filter, arch, (int)nr), $"{arch:x} {nr} ({string.Join('/', names)})");
            }
        }
    }

    [Fact]
    public void Default_profile_decisions_match_dockers()
    {
        var docker = Containers.Runtime.Capabilities.DockerDefault.Select(c => "CAP_" + c).ToList();
        var filter = SeccompCompiler.Compile(SeccompProfile.Default, docker);
        int Nr(string n) => SyscallTables.X8664[n];
        Assert.Equal(Allow, Run(filter, X8664, Nr("read")));
        Assert.Equal(Allow, Run(filter, X8664, Nr("execve")));
        Assert.Equal(Eperm, Run(filter, X8664, Nr("unshare"), 0x10000000));
        Assert.Equal(Eperm, Run(filter, X8664, Nr("mount")));
        Assert.Equal(Eperm, Run(filter, X8664, Nr("keyctl")));
        Assert.Equal(Eperm, Run(filter, X8664, Nr("bpf")));
        Assert.Equal(Eperm, Run(filter, X8664, Nr("kexec_load")));
        Assert.Equal(Eperm, Run(filter, X8664, Nr("open_by_handle_at")));
        Assert.Equal(0x00050026u, Run(filter, X8664, Nr("clone3")));                          // ENOSYS: glibc falls back to clone
        Assert.Equal(Allow, Run(filter, X8664, Nr("clone"), 0x01200011));                    // a fork's flags
        Assert.Equal(Eperm, Run(filter, X8664, Nr("clone"), 0x10000000));                    // CLONE_NEWUSER
        Assert.Equal(Allow, Run(filter, X8664, Nr("socket"), 2));                            // AF_INET
        Assert.Equal(Eperm, Run(filter, X8664, Nr("socket"), 38));                           // AF_ALG... 38 is refused, 39 and 40+ allowed
        Assert.Equal(Allow, Run(filter, X8664, Nr("socket"), 41));
        Assert.Equal(Allow, Run(filter, X8664, Nr("personality"), 0xffffffff));
        Assert.Equal(Eperm, Run(filter, X8664, Nr("personality"), 0x0004));
        Assert.Equal(Eperm, Run(filter, X8664, Nr("personality"), 0x1_0000_0000));          // all 64 bits compared
        // the other ABIs: the same decisions by their own numbers; a foreign architecture is killed
        Assert.Equal(Allow, Run(filter, X8664, SyscallTables.X32["read"]));
        Assert.Equal(Eperm, Run(filter, X8664, SyscallTables.X32["unshare"]));
        Assert.Equal(Allow, Run(filter, I386, SyscallTables.I386["read"]));
        Assert.Equal(Eperm, Run(filter, I386, SyscallTables.I386["unshare"]));
        Assert.Equal(Eperm, Run(filter, I386, SyscallTables.I386["keyctl"]));
        Assert.Equal(0x80000000u, Run(filter, 0xC00000B7, 63));                                // aarch64
        // with CAP_SYS_ADMIN, unshare and mount open up (as --cap-add SYS_ADMIN does in Docker)
        var admin = SeccompCompiler.Compile(SeccompProfile.Default, [.. docker, "CAP_SYS_ADMIN"]);
        Assert.Equal(Allow, Run(admin, X8664, Nr("unshare")));
        Assert.Equal(Allow, Run(admin, X8664, Nr("mount")));
        Assert.Equal(Allow, Run(admin, X8664, Nr("clone3")));
    }
}
