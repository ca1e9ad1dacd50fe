using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Containers.Images.Snapshots;

namespace Containers.Build;

/// <summary>COPY and ADD: a layer written straight from the context (or another stage or image), with docker's rules.</summary>
internal sealed partial class ImageBuilder
{
    private async Task CopyAsync(StageState state, Instruction ins, int n, CancellationToken ct)
    {
        var add = ins.Keyword == "ADD";
        var words = new ShellWords(state.Lookup, dockerfile.EscapeChar);
        var args = ins.IsJson ? ins.Args.Select(words.Single).ToList() : words.Split(ins.Raw);
        if (args.Count < 2)
        {
            throw Error(ins, $"{ins.Keyword} requires at least two arguments: source and destination");
        }

        var workdir = state.Run.WorkingDir is { Length: > 0 } w ? w : "/";
        var rawDest = args[^1];
        var dest = IgnoreMatcher.Clean(rawDest.StartsWith('/') ? rawDest : workdir.TrimEnd('/') + "/" + rawDest);

        // a directory when it says so ("dir/", ".", "dir/."), when several sources go there, or when it is one already
        var destDir = rawDest.EndsWith('/') || rawDest is "." or ".." || rawDest.EndsWith("/.", StringComparison.Ordinal) || args.Count > 2 || args[..^1].Any(HasGlob)
            || (state.Layers.Count > 0 && new MergedView(LowerDirs(state), store.Sys).Resolve(dest) is { } existing && store.Sys.LStat(existing) is { IsDirectory: true });
        var (uid, gid) = Chown(ins, state);
        int? chmod = ins.Flag("chmod") is { } cm ? (int.TryParse(cm, NumberStyles.None, CultureInfo.InvariantCulture, out _) ? Convert.ToInt32(cm, 8) : throw Error(ins, $"invalid --chmod '{cm}': expected octal like 755")) : null;
        var parents = ins.Flag("parents") is "true" or "";
        var excludes = ins.FlagValues("exclude").Select(e => new Regex("^" + IgnoreMatcher.ToRegex(IgnoreMatcher.Clean(e)) + "(/.*)?$")).ToList();
        var from = ins.Flag("from");
        MergedView? source = null;
        if (from is not null)
        {
            source = FindStage(from) is { } stage
                ? new MergedView(LowerDirs(await BuildStageAsync(stage.Index, ct).ConfigureAwait(false)), store.Sys)
                : new MergedView(store.LowerDirs(await engine.Images.EnsureAsync(from, PullPolicy.Missing, null, ct).ConfigureAwait(false)), store.Sys);
        }

        var items = new List<CopyItem>();
        foreach (var src in args[..^1])
        {
            if (src.StartsWith("<<", StringComparison.Ordinal) && ins.Heredocs.FirstOrDefault(h => h.Name == src.TrimStart('<', '-').Trim('\'', '"')) is { } doc)
            {
                var content = doc.Expand ? words.Single(doc.Content.Replace("\"", "\\\"", StringComparison.Ordinal)) : doc.Content;
                items.Add(new CopyItem(destDir ? dest + "/" + doc.Name : dest, 'f', null, Encoding.UTF8.GetBytes(content), null, chmod ?? 0x1a4, uid ?? 0, gid ?? 0, Now()));
                continue;
            }

            if (add && (src.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || src.StartsWith("https://", StringComparison.OrdinalIgnoreCase)))
            {
                items.Add(await DownloadAsync(ins, src, destDir ? dest + "/" + Path.GetFileName(new Uri(src).AbsolutePath) : dest, chmod, uid, gid, ct).ConfigureAwait(false));
                continue;
            }

            var matches = source is null ? MatchContext(ins, src) : MatchView(ins, source, src);
            foreach (var (rel, host) in matches)
            {
                var st = store.Sys.LStat(host)!.Value;
                if (st.IsDirectory)
                {
                    // a directory's contents are copied, not the directory itself (with --parents, under its path)
                    var into = parents && rel.Length > 0 ? dest + "/" + rel : dest;
                    if ((!destDir && matches.Count == 1) || (parents && rel.Length > 0))
                    {
                        items.Add(Item(into, host, st, chmod, uid, gid));
                    }

                    Walk(host, rel, source, (childRel, childHost, childSt) =>
                    {
                        var under = childRel[(rel.Length == 0 ? 0 : rel.Length + 1)..];
                        if (!excludes.Any(x => x.IsMatch(under)))
                        {
                            items.Add(Item(into + "/" + under, childHost, childSt, chmod, uid, gid));
                        }
                    });
                    continue;
                }

                var target = parents ? dest + "/" + rel : destDir ? dest + "/" + Path.GetFileName(host) : dest;
                if (add && source is null && st.Type == FileStatus.Regular && IsArchive(host))
                {
                    items.AddRange(Extract(ins, host, dest)); // an archive always unpacks into the destination directory
                    continue;
                }

                items.Add(Item(target, host, st, chmod, uid, gid));
            }
        }

        var checksum = Checksum(items);
        var key = Hash($"{state.Key}\n{ins.Keyword}\n{dest}\n{uid}:{gid}:{chmod}\n{checksum}");
        if (FromCache(state, key, n))
        {
            return;
        }

        // --link: the layer stands alone (parents made fresh, nothing read from the layers below), as BuildKit's
        var linked = ins.Flag("link") is "true" or "";
        var base_ = new MergedView(state.Layers.Count == 0 || linked ? [] : LowerDirs(state), store.Sys);
        var (blob, size, diffId) = await new LayerStore(store).AddAsync(
            tar => WriteTar(tar, items, base_, uid, gid),
            state.Chain,
            $"{ins.Keyword} at {dockerfile.File}:{ins.Line}",
            ct).ConfigureAwait(false);
        var layer = new LayerRef(blob.ToString(), size, MediaTypes.OciLayerGzip, diffId.ToString());
        var entry = new CacheEntry(new HistoryEntry { Created = Now(), CreatedBy = $"{ins.Keyword} {string.Join(' ', args)} # containers-dotnet" }, layer);
        cache.Put(key, entry, Digest.Chain(state.Chain, diffId));
        Apply(state, entry, key, layer);
    }

    private (int? Uid, int? Gid) Chown(Instruction ins, StageState state)
    {
        if (ins.Flag("chown") is not { } chown)
        {
            return (null, null);
        }

        try
        {
            var user = UserResolver.Resolve(chown, [], state.Layers.Count == 0 ? [store.Snapshots.Empty] : LowerDirs(state));
            return ((int)user.Uid, (int)user.Gid); // user alone: the user's primary group, as docker
        }
        catch (InvalidContainerSpecException e)
        {
            throw Error(ins, $"--chown={chown}: {e.Message}");
        }
    }

    private CopyItem Item(string dest, string host, FileStatus st, int? chmod, int? uid, int? gid)
    {
        var kind = st.Type switch
        {
            FileStatus.Directory => 'd',
            FileStatus.Symlink => 'l',
            _ => 'f',
        };
        return new CopyItem(dest, kind, host, null, kind == 'l' ? store.Sys.ReadLink(host) : null,
            kind == 'l' ? 0x1ff : chmod ?? st.Permissions, uid ?? 0, gid ?? 0, Clamp(DateTimeOffset.FromUnixTimeMilliseconds(st.MtimeNs / 1_000_000)));
    }

    private DateTimeOffset Clamp(DateTimeOffset t) =>
        options.SourceDateEpoch is { } e && t.ToUnixTimeSeconds() > e ? DateTimeOffset.FromUnixTimeSeconds(e) : t;

    /// <summary>The context paths a COPY source names (globs allowed), minus what .dockerignore leaves out.</summary>
    private List<(string Rel, string Host)> MatchContext(Instruction ins, string src)
    {
        var context = Path.GetFullPath(options.ContextDirectory);
        var rel = IgnoreMatcher.Clean(src);
        if (src.Split('/').Contains(".."))
        {
            var full = Path.GetFullPath(Path.Combine(context, src));
            if (!full.StartsWith(context + "/", StringComparison.Ordinal) && full != context)
            {
                throw Error(ins, $"{ins.Keyword} failed: forbidden path outside the build context: {src}");
            }
        }

        if (!HasGlob(rel))
        {
            var host = rel.Length == 0 ? context : Path.Combine(context, rel);
            if (store.Sys.LStat(host) is null || (rel.Length > 0 && ignore.IsIgnored(rel)))
            {
                throw Error(ins, $"{ins.Keyword} failed: file not found in build context or excluded by .dockerignore: stat {src}: file does not exist");
            }

            return [(rel, host)];
        }

        var pattern = new Regex("^" + IgnoreMatcher.ToRegex(rel) + "$");
        var found = new List<(string, string)>();
        Walk(context, "", null, (childRel, childHost, _) =>
        {
            if (pattern.IsMatch(childRel))
            {
                found.Add((childRel, childHost));
            }
        });
        found.RemoveAll(f => found.Any(o => f.Item1.StartsWith(o.Item1 + "/", StringComparison.Ordinal))); // a matched directory brings its children
        return found.Count > 0 ? found : throw Error(ins, $"{ins.Keyword} failed: no source files were specified: no match for {src} in the build context");
    }

    private List<(string Rel, string Host)> MatchView(Instruction ins, MergedView view, string src)
    {
        var rel = IgnoreMatcher.Clean(src);
        return view.Resolve(rel) is { } host ? [(rel, host)] : throw Error(ins, $"{ins.Keyword} --from={ins.Flag("from")} failed: {src} not found in that stage or image");
    }

    /// <summary>Visits everything below <paramref name="host"/> in sorted order (context: .dockerignore applied; view: merged layers).</summary>
    private void Walk(string host, string rel, MergedView? view, Action<string, string, FileStatus> visit)
    {
        var names = view is null
            ? Directory.EnumerateFileSystemEntries(host).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList()
            : [.. view.List(rel)];
        foreach (var name in names)
        {
            var childRel = rel.Length == 0 ? name : rel + "/" + name;
            var childHost = view is null ? Path.Combine(host, name) : view.Resolve(childRel);
            if (childHost is null || store.Sys.LStat(childHost) is not { } st)
            {
                continue;
            }

            var ignored = view is null && ignore.IsIgnored(childRel);
            if (ignored && !(st.IsDirectory && ignore.HasExceptions))
            {
                continue;
            }

            if (!ignored)
            {
                visit(childRel, childHost, st);
            }

            if (st.IsDirectory)
            {
                Walk(childHost, childRel, view, visit);
            }
        }
    }

    private static bool HasGlob(string s) => s.IndexOfAny(['*', '?', '[']) >= 0;

    private static readonly byte[] XzMagic = [0xFD, (byte)'7', (byte)'z', (byte)'X', (byte)'Z', 0];

    /// <summary>True for a tar, plain or compressed (gzip, bzip2, xz, zstd): ADD unpacks those.</summary>
    private static bool IsArchive(string path)
    {
        using var f = File.OpenRead(path);
        using var tar = OpenArchive(f);
        var header = new byte[512];
        try
        {
            return tar.ReadAtLeast(header, 512, throwOnEndOfStream: false) == 512 && Encoding.ASCII.GetString(header, 257, 5) == "ustar";
        }
        catch (Exception e) when (e is InvalidDataException or IOException or FormatException or SharpCompress.Common.SharpCompressException)
        {
            return false; // compressed, but not a tar: copied as a file, as docker does
        }
    }

    /// <summary>The decompressed stream of an archive, by its magic bytes.</summary>
    private static Stream OpenArchive(FileStream file)
    {
        Span<byte> magic = stackalloc byte[6];
        var n = file.ReadAtLeast(magic, 6, throwOnEndOfStream: false);
        file.Position = 0;
        if (n >= 3 && magic[0] == 'B' && magic[1] == 'Z' && magic[2] == 'h')
        {
            return SharpCompress.Compressors.BZip2.BZip2Stream.Create(file, SharpCompress.Compressors.CompressionMode.Decompress, decompressConcatenated: true, leaveOpen: true, tolerateTruncatedStream: false);
        }

        if (n == 6 && magic.SequenceEqual(XzMagic))
        {
            return new SharpCompress.Compressors.Xz.XZStream(file);
        }

        return LayerStreams.Decompress(file, LayerStreams.Sniff(file));
    }

    /// <summary>ADD of a local archive: its entries, under <paramref name="dest"/>.</summary>
    private List<CopyItem> Extract(Instruction ins, string archive, string dest)
    {
        var items = new List<CopyItem>();
        using var file = File.OpenRead(archive);
        using var stream = OpenArchive(file);
        using var reader = new TarReader(stream);
        while (reader.GetNextEntry(copyData: true) is { } e)
        {
            var name = IgnoreMatcher.Clean(e.Name);
            if (name.Length == 0 || e.Name.Split('/').Contains("..") || e.Name.StartsWith('/'))
            {
                if (name.Length == 0)
                {
                    continue;
                }

                throw Error(ins, $"ADD {Path.GetFileName(archive)}: archive entry '{e.Name}' points outside the destination; refused");
            }

            var mtime = Clamp(e.ModificationTime);
            switch (e.EntryType)
            {
                case TarEntryType.Directory:
                    items.Add(new CopyItem(dest + "/" + name, 'd', null, null, null, (int)e.Mode, e.Uid, e.Gid, mtime));
                    break;
                case TarEntryType.SymbolicLink:
                    items.Add(new CopyItem(dest + "/" + name, 'l', null, null, e.LinkName, 0x1ff, e.Uid, e.Gid, mtime));
                    break;
                case TarEntryType.RegularFile or TarEntryType.V7RegularFile:
                    var ms = new MemoryStream();
                    e.DataStream?.CopyTo(ms);
                    items.Add(new CopyItem(dest + "/" + name, 'f', null, ms.ToArray(), null, (int)e.Mode, e.Uid, e.Gid, mtime));
                    break;
                default:
                    break; // devices, fifos and hardlinks in ADD archives are not copied
            }
        }

        return items;
    }

    private async Task<CopyItem> DownloadAsync(Instruction ins, string url, string dest, int? chmod, int? uid, int? gid, CancellationToken ct)
    {
        using var http = new HttpClient();
        byte[] bytes;
        DateTimeOffset modified;
        try
        {
            using var response = await http.GetAsync(new Uri(url), ct).ConfigureAwait(false);
            response.EnsureSuccessStatusCode();
            bytes = await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
            modified = response.Content.Headers.LastModified ?? DateTimeOffset.UnixEpoch;
        }
        catch (HttpRequestException e)
        {
            throw Error(ins, $"ADD {url}: {e.Message}");
        }

        if (ins.Flag("checksum") is { } checksum && Digest.Of(bytes).ToString() != checksum)
        {
            throw Error(ins, $"ADD {url}: digest mismatch: got {Digest.Of(bytes)}, --checksum says {checksum}");
        }

        return new CopyItem(dest, 'f', null, bytes, null, chmod ?? 0x180, uid ?? 0, gid ?? 0, Clamp(modified));
    }

    private static string Checksum(List<CopyItem> items)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var i in items)
        {
            hash.AppendData(Encoding.UTF8.GetBytes($"{i.Dest}\0{i.Kind}\0{i.Mode}\0{i.Uid}\0{i.Gid}\0{i.Link}\0"));
            if (i.Content is { } content)
            {
                hash.AppendData(SHA256.HashData(content));
            }
            else if (i.Kind == 'f' && i.Source is { } source)
            {
                using var f = File.OpenRead(source);
                hash.AppendData(SHA256.HashData(f));
            }
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>The layer: parents first (with the metadata they already have, or 0755 when new), then the items.</summary>
    private void WriteTar(Stream output, List<CopyItem> items, MergedView base_, int? uid, int? gid)
    {
        using var tar = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
        var byPath = new SortedDictionary<string, CopyItem>(StringComparer.Ordinal);
        foreach (var i in items)
        {
            byPath[i.Dest.Trim('/')] = i;
        }

        var parents = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var path in byPath.Keys)
        {
            for (var slash = path.IndexOf('/'); slash > 0; slash = path.IndexOf('/', slash + 1))
            {
                if (!byPath.ContainsKey(path[..slash]))
                {
                    parents.Add(path[..slash]);
                }
            }
        }

        foreach (var parent in parents)
        {
            var entry = new PaxTarEntry(TarEntryType.Directory, parent + "/");
            if (base_.Resolve(parent) is { } existing && store.Sys.LStat(existing) is { IsDirectory: true } st)
            {
                entry.Mode = (UnixFileMode)st.Permissions;
                entry.Uid = st.Uid;
                entry.Gid = st.Gid;
                entry.ModificationTime = DateTimeOffset.FromUnixTimeMilliseconds(st.MtimeNs / 1_000_000);
            }
            else
            {
                entry.Mode = (UnixFileMode)0x1ed;
                entry.Uid = uid ?? 0;
                entry.Gid = gid ?? 0;
                entry.ModificationTime = Now();
            }

            byPath[parent] = new CopyItem(parent, 'p', null, null, null, 0, 0, 0, default);
            tar.WriteEntry(entry);
        }

        foreach (var (path, i) in byPath)
        {
            if (i.Kind == 'p')
            {
                continue;
            }

            var entry = new PaxTarEntry(i.Kind switch { 'd' => TarEntryType.Directory, 'l' => TarEntryType.SymbolicLink, _ => TarEntryType.RegularFile }, i.Kind == 'd' ? path + "/" : path)
            {
                Mode = (UnixFileMode)(i.Mode & 0xFFF),
                Uid = i.Uid,
                Gid = i.Gid,
                ModificationTime = i.Mtime,
            };
            if (i.Kind == 'l')
            {
                entry.LinkName = i.Link!;
                tar.WriteEntry(entry);
            }
            else if (i.Kind == 'f')
            {
                using var data = i.Content is { } c ? new MemoryStream(c) : (Stream)File.OpenRead(i.Source!);
                entry.DataStream = data;
                tar.WriteEntry(entry);
            }
            else
            {
                tar.WriteEntry(entry);
            }
        }
    }

    /// <summary>One thing a COPY writes: a file (from a path or bytes), a directory or a symlink.</summary>
    private sealed record CopyItem(string Dest, char Kind, string? Source, byte[]? Content, string? Link, int Mode, int Uid, int Gid, DateTimeOffset Mtime);
}
