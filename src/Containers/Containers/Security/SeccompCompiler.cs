using System.Buffers.Binary;
using System.Collections.Concurrent;

namespace Containers.Security;

/// <summary>
/// Compiles a seccomp profile to a classic BPF program for SECCOMP_SET_MODE_FILTER, for the three ABIs an x86_64
/// kernel runs (x86_64, x32 with its syscall bit, i386), as libseccomp would: other architectures are killed, each
/// ABI checks the numbers of its own table, argument tests compare all 64 bits (32 for i386), and what no rule names
/// gets the default action. Programs are cached per profile and capability set.
/// </summary>
internal static class SeccompCompiler
{
    private const uint AuditArchX8664 = 0xC000003E, AuditArchI386 = 0x40000003;
    private const uint X32Bit = 0x40000000;
    private const ushort LdW = 0x20, JmpJa = 0x05, JmpJeq = 0x15, JmpJgt = 0x25, JmpJge = 0x35, Ret = 0x06, AluAnd = 0x54;
    private const uint KillProcess = 0x80000000;
    private static readonly ConcurrentDictionary<(SeccompProfile, string), byte[]> Cache = new();

    private readonly record struct Insn(ushort Code, byte Jt, byte Jf, uint K);

    /// <summary>The filter of <paramref name="profile"/> for a container holding <paramref name="capabilities"/> (CAP_ names), as sock_filter bytes.</summary>
    /// <exception cref="InvalidContainerSpecException">The program is too long for the kernel (4096 instructions).</exception>
    public static byte[] Compile(SeccompProfile profile, IReadOnlyCollection<string> capabilities)
    {
        string key = string.Join(',', capabilities.Order(StringComparer.Ordinal));
        return Cache.GetOrAdd((profile, key), k =>
        {
            var rules = k.Item1.Rules(new HashSet<string>(capabilities, StringComparer.Ordinal), out uint defaultAction);
            var x8664 = Section(rules, SyscallTables.X8664, defaultAction, wide: true);
            var x32 = Section(rules, SyscallTables.X32, defaultAction, wide: true);
            var i386 = Section(rules, SyscallTables.I386, defaultAction, wide: false);
            var program = new List<Insn>
            {
                new(LdW, 0, 0, 4), // seccomp_data.arch
                new(JmpJeq, 0, 1, AuditArchX8664),
                new(JmpJa, 0, 0, 3), // to the x86_64 dispatch
                new(JmpJeq, 0, 1, AuditArchI386),
                new(JmpJa, 0, 0, (uint)(4 + x8664.Count + x32.Count)), // past the dispatch and both 64-bit sections
                new(Ret, 0, 0, KillProcess),
                // x86_64 dispatch: syscall numbers with the x32 bit go to the x32 section
                new(LdW, 0, 0, 0),
                new(JmpJge, 0, 1, X32Bit),
                new(JmpJa, 0, 0, (uint)x8664.Count),
            };
            program.AddRange(x8664);
            program.AddRange(x32);
            program.AddRange(i386);
            if (program.Count > 4096)
            {
                throw new InvalidContainerSpecException($"seccomp profile {k.Item1.Source}: the compiled filter has {program.Count} instructions, more than the kernel's 4096");
            }

            var bytes = new byte[program.Count * 8];
            for (int i = 0; i < program.Count; i++)
            {
                var span = bytes.AsSpan(i * 8, 8);
                BinaryPrimitives.WriteUInt16LittleEndian(span, program[i].Code);
                span[2] = program[i].Jt;
                span[3] = program[i].Jf;
                BinaryPrimitives.WriteUInt32LittleEndian(span[4..], program[i].K);
            }

            return bytes;
        });
    }

    /// <summary>One ABI's checks: load the number, then per system call its rules; the default action last.</summary>
    private static List<Insn> Section(List<SeccompRule> rules, IReadOnlyDictionary<string, int> table, uint defaultAction, bool wide)
    {
        // group the rules by system call number, keeping the profile's order within each
        var byNumber = new Dictionary<int, List<SeccompRule>>();
        var order = new List<int>();
        foreach (var rule in rules)
        {
            foreach (string name in rule.Names)
            {
                if (!table.TryGetValue(name, out int nr))
                {
                    continue; // not a system call of this ABI (profiles list every architecture's)
                }

                if (!byNumber.TryGetValue(nr, out var list))
                {
                    byNumber[nr] = list = [];
                    order.Add(nr);
                }

                list.Add(rule);
            }
        }

        // system calls whose first rule has no argument test get one action: those are merged into ranges of
        // consecutive numbers with the same action (3 instructions a range, instead of 2 a call: the program the
        // kernel checks and JIT-compiles at each start is a fraction as long); the others get a block of tests each
        var simple = new SortedDictionary<int, uint>();
        var complex = new List<int>();
        foreach (int nr in order)
        {
            if (byNumber[nr][0].Args.Count == 0)
            {
                simple[nr] = byNumber[nr][0].Action;
            }
            else
            {
                complex.Add(nr);
            }
        }

        var code = new List<Insn> { new(LdW, 0, 0, 0) };
        foreach (int nr in complex)
        {
            var block = new List<Insn>();
            bool unconditional = false;
            foreach (var rule in byNumber[nr])
            {
                if (rule.Args.Count == 0)
                {
                    block.Add(new(Ret, 0, 0, rule.Action));
                    unconditional = true;
                    break;
                }

                block.AddRange(Conditional(rule, wide));
            }

            if (!unconditional)
            {
                block.Add(new(LdW, 0, 0, 0)); // the argument tests replaced the number: load it again
            }

            // jeq nr: fall into the block; else jump over it (through a ja when it is longer than a jump can reach)
            if (block.Count <= 255)
            {
                code.Add(new(JmpJeq, 0, (byte)block.Count, (uint)nr));
            }
            else
            {
                code.Add(new(JmpJeq, 1, 0, (uint)nr));
                code.Add(new(JmpJa, 0, 0, (uint)block.Count));
            }

            code.AddRange(block);
        }

        var numbers = simple.Keys.ToList();
        for (int i = 0; i < numbers.Count;)
        {
            int first = numbers[i];
            uint action = simple[first];
            int j = i;
            while (j + 1 < numbers.Count && numbers[j + 1] == numbers[j] + 1 && simple[numbers[j + 1]] == action)
            {
                j++;
            }

            int last = numbers[j];
            if (first == last)
            {
                code.Add(new(JmpJeq, 0, 1, (uint)first));
            }
            else
            {
                code.Add(new(JmpJge, 0, 2, (uint)first));
                code.Add(new(JmpJgt, 1, 0, (uint)last));
            }

            code.Add(new(Ret, 0, 0, action));
            i = j + 1;
        }

        code.Add(new(Ret, 0, 0, defaultAction));
        return code;
    }

    /// <summary>A rule with argument tests: each test that fails jumps past the rule's return; all passing return its action.</summary>
    private static List<Insn> Conditional(SeccompRule rule, bool wide)
    {
        var tests = rule.Args.Select(a => Test(a, wide)).ToList();
        int total = tests.Sum(t => t.Count) + 1;
        var code = new List<Insn>();
        int emitted = 0;
        foreach (var test in tests)
        {
            foreach (var insn in test)
            {
                // a test's failure target is "past the return": its distance from here
                int toEnd = total - emitted - 1;
                code.Add(insn.Jf == Fail ? insn with { Jf = (byte)toEnd } : insn.Jt == Fail ? insn with { Jt = (byte)toEnd } : insn);
                emitted++;
            }
        }

        code.Add(new(Ret, 0, 0, rule.Action));
        return code;
    }

    private const byte Fail = 0xff;

    /// <summary>
    /// One comparison of argument <see cref="SeccompArg.Index"/> (seccomp_data.args at 16 + 8i: low word, then high
    /// word). Jumps marked <see cref="Fail"/> are patched to "rule fails"; a passing test falls through.
    /// </summary>
    private static List<Insn> Test(SeccompArg a, bool wide)
    {
        uint low = 16 + (uint)(8 * a.Index), high = low + 4;
        uint vlo = (uint)a.Value, vhi = (uint)(a.Value >> 32);
        var c = new List<Insn>();
        switch (a.Op)
        {
            case "SCMP_CMP_EQ" or "SCMP_CMP_NE":
                // EQ: high == vhi and low == vlo. NE: not that.
                bool eq = a.Op == "SCMP_CMP_EQ";
                if (wide)
                {
                    c.Add(new(LdW, 0, 0, high));
                    c.Add(eq ? new(JmpJeq, 0, Fail, vhi) : new(JmpJeq, 0, 2, vhi)); // NE: a different high word passes (skip the low test)
                }

                c.Add(new(LdW, 0, 0, low));
                c.Add(eq ? new(JmpJeq, 0, Fail, vlo) : new(JmpJeq, Fail, 0, vlo));
                break;
            case "SCMP_CMP_MASKED_EQ":
                uint mlo = (uint)a.Value, mhi = (uint)(a.Value >> 32);
                uint wlo = (uint)a.ValueTwo, whi = (uint)(a.ValueTwo >> 32);
                if (wide)
                {
                    c.Add(new(LdW, 0, 0, high));
                    c.Add(new(AluAnd, 0, 0, mhi));
                    c.Add(new(JmpJeq, 0, Fail, whi));
                }

                c.Add(new(LdW, 0, 0, low));
                c.Add(new(AluAnd, 0, 0, mlo));
                c.Add(new(JmpJeq, 0, Fail, wlo));
                break;
            default:
                // unsigned 64-bit order: decide on the high word, and on the low word only when the high words are equal
                (ushort jump, bool invert) = a.Op switch
                {
                    "SCMP_CMP_GT" => (JmpJgt, false),
                    "SCMP_CMP_GE" => (JmpJge, false),
                    "SCMP_CMP_LT" => (JmpJge, true), // arg < v  is  not (arg >= v)
                    _ => (JmpJgt, true),             // arg <= v is  not (arg > v)
                };
                if (wide)
                {
                    c.Add(new(LdW, 0, 0, high));
                    // high word decides when it differs: greater passes GT/GE and fails LT/LE; smaller the opposite
                    c.Add(new(JmpJgt, invert ? Fail : (byte)3, 0, vhi));
                    c.Add(new(JmpJeq, 0, invert ? (byte)2 : Fail, vhi));
                }

                c.Add(new(LdW, 0, 0, low));
                c.Add(invert ? new(jump, Fail, 0, vlo) : new(jump, 0, Fail, vlo));
                break;
        }

        return c;
    }
}
