namespace Containers.Runtime;

/// <summary>The identity a container process runs as.</summary>
internal sealed record ResolvedUser(uint Uid, uint Gid, IReadOnlyList<uint> AdditionalGids, string Home);

/// <summary>Resolves <c>user[:group]</c> against the container's /etc/passwd and /etc/group, as runc's libcontainer/user does.</summary>
internal static class UserResolver
{
    /// <summary>
    /// Resolves against the first of <paramref name="layers"/> (topmost first) that has the file.
    /// Throws <see cref="InvalidContainerSpecException"/> when a name is not found.
    /// </summary>
    public static ResolvedUser Resolve(string? spec, IReadOnlyList<string> groupAdd, IReadOnlyList<string> layers)
    {
        var passwd = Read(layers, "etc/passwd");
        var group = Read(layers, "etc/group");
        var userPart = string.IsNullOrEmpty(spec) ? "0" : spec.Split(':')[0];
        var groupPart = spec?.Contains(':') == true ? spec[(spec.IndexOf(':') + 1)..] : null;

        uint uid, gid = 0;
        var home = "/";
        string? userName = null;
        var entry = passwd.FirstOrDefault(p => p[0] == userPart || (IsNumber(userPart, out var n) && p[2] == n.ToString(CultureInfo.InvariantCulture)));
        if (entry is not null)
        {
            userName = entry[0];
            uid = uint.Parse(entry[2], CultureInfo.InvariantCulture);
            gid = uint.Parse(entry[3], CultureInfo.InvariantCulture);
            home = entry[5];
        }
        else if (IsNumber(userPart, out var n))
        {
            uid = n;
        }
        else
        {
            throw new InvalidContainerSpecException($"unable to find user {userPart}: no matching entries in passwd file");
        }

        if (groupPart is not null)
        {
            gid = ResolveGroup(groupPart, group);
        }

        var extra = new List<uint> { gid };
        if (userName is not null && groupPart is null)
        {
            extra.AddRange(group.Where(g => g[3].Split(',').Contains(userName)).Select(g => uint.Parse(g[2], CultureInfo.InvariantCulture)));
        }

        extra.AddRange(groupAdd.Select(g => ResolveGroup(g, group)));
        return new ResolvedUser(uid, gid, extra.Distinct().ToArray(), home);
    }

    private static uint ResolveGroup(string name, List<string[]> groups)
    {
        var g = groups.FirstOrDefault(x => x[0] == name);
        return g is not null ? uint.Parse(g[2], CultureInfo.InvariantCulture)
            : IsNumber(name, out var n) ? n
            : throw new InvalidContainerSpecException($"unable to find group {name}: no matching entries in group file");
    }

    private static bool IsNumber(string s, out uint n) => uint.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out n);

    private static List<string[]> Read(IReadOnlyList<string> layers, string file)
    {
        foreach (var layer in layers)
        {
            // resolved inside the layer: an /etc/passwd that is a symlink to the host's must not be read
            string path;
            try
            {
                path = Containers.Shim.RootedPath.Join(layer, file);
            }
            catch (IOException e)
            {
                throw new InvalidContainerSpecException($"cannot read /{file} of {layer}: {e.Message}");
            }

            if (File.Exists(path))
            {
                return File.ReadLines(path)
                    .Where(l => l.Length > 0 && !l.StartsWith('#'))
                    .Select(l => l.Split(':'))
                    .Where(f => f.Length >= 4 && (file.EndsWith("group", StringComparison.Ordinal) || f.Length >= 7))
                    .ToList();
            }
        }

        return [];
    }
}
