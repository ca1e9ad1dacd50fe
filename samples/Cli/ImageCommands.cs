using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Containers.Images;
using Containers.Images.Oci;

namespace Containers.Cli;

/// <summary>The image subcommands: pull, push, images, rmi, tag, history, save, load, import, commit, image prune/inspect.</summary>
internal static class ImageCommands
{
    /// <summary>Pulls with progress on stderr, as docker does (also used by run for a missing image).</summary>
    public static async Task<LocalImage> PullWithProgressAsync(ContainerEngine engine, string name, Platform? platform, bool quiet, bool printName = true)
    {
        var reference = ImageReference.Parse(name);
        if (!quiet)
        {
            Console.Error.WriteLine($"{reference.Tag ?? reference.Digest?.ToString()}: Pulling from {(reference.Registry == ImageReference.DockerHub ? reference.Repository : reference.Name)}");
        }

        using var bars = quiet ? null : new ProgressBars();
        var image = await engine.Images.PullAsync(name, new PullOptions { Platform = platform }, bars).ConfigureAwait(false);
        bars?.Dispose();
        if (!quiet)
        {
            Console.Error.WriteLine($"Digest: {image.ManifestDigest}");
            Console.Error.WriteLine($"Status: Downloaded newer image for {reference.ToFamiliarString()}");
        }

        if (printName)
        {
            Console.WriteLine(reference.ToString());
        }

        return image;
    }

    internal static async Task<int> PullAsync(ContainerEngine engine, Args a)
    {
        await PullWithProgressAsync(engine, Single(a, "pull", "an image"), a.Get("platform") is { } p ? Platform.Parse(p) : null, a.Has("quiet")).ConfigureAwait(false);
        return 0;
    }

    internal static async Task<int> PushAsync(ContainerEngine engine, Args a)
    {
        var name = Single(a, "push", "an image");
        var reference = ImageReference.Parse(name);
        Console.Error.WriteLine($"The push refers to repository [{reference.Name}]");
        using var bars = a.Has("quiet") ? null : new ProgressBars();
        var digest = await engine.Images.PushAsync(name, null, bars).ConfigureAwait(false);
        bars?.Dispose();
        var size = engine.Images.Get(name).ManifestDescriptor.Size;
        Console.WriteLine($"{reference.Tag ?? "latest"}: digest: {digest} size: {size}");
        return 0;
    }

    internal static int Images(ContainerEngine engine, Args a)
    {
        var images = engine.Images.List().OrderByDescending(i => i.Created).ToList();
        if (a.Positionals.Count > 0)
        {
            var wanted = ImageReference.TryParse(a.Positionals[0].Contains(':', StringComparison.Ordinal) ? a.Positionals[0] : a.Positionals[0] + ":x");
            images = images.Where(i => i.Names.Any(n => ImageReference.Parse(n).Name == wanted?.Name)).ToList();
        }

        var rows = images.SelectMany(i => i.Names.IsEmpty ? [(Image: i, Name: (ImageReference?)null)] : i.Names.Select(n => (Image: i, Name: (ImageReference?)ImageReference.Parse(n)))).ToList();
        if (a.Has("quiet"))
        {
            foreach (var id in rows.Select(r => a.Has("no-trunc") ? r.Image.Id.ToString() : r.Image.Id.Short).Distinct())
            {
                Console.WriteLine(id);
            }

            return 0;
        }

        if (a.Get("format") == "json")
        {
            foreach (var (image, name) in rows)
            {
                Console.WriteLine(new JsonObject
                {
                    ["Repository"] = name?.FamiliarName ?? "<none>",
                    ["Tag"] = name?.Tag ?? "<none>",
                    ["ID"] = image.Id.Short,
                    ["Digest"] = image.ManifestDigest.ToString(),
                    ["CreatedAt"] = image.Created?.ToString("u", CultureInfo.InvariantCulture),
                    ["Size"] = Human(image.Size),
                }.ToJsonString());
            }

            return 0;
        }

        var table = new List<string[]> { a.Has("digests") ? ["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"] : ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"] };
        foreach (var (image, name) in rows)
        {
            var cells = new List<string> { name?.FamiliarName ?? "<none>", name?.Tag ?? "<none>" };
            if (a.Has("digests"))
            {
                cells.Add(image.ManifestDigest.ToString());
            }

            cells.AddRange([a.Has("no-trunc") ? image.Id.ToString() : image.Id.Short, image.Created is { } c ? Ago(c) : "N/A", Human(image.Size)]);
            table.Add([.. cells]);
        }

        PrintTable(table);
        return 0;
    }

    internal static int Remove(ContainerEngine engine, Args a)
    {
        if (a.Positionals.Count == 0)
        {
            throw new UsageException("\"rmi\" requires at least one image");
        }

        var failed = false;
        foreach (var name in a.Positionals)
        {
            try
            {
                foreach (var line in engine.Images.Remove(name, a.Has("force")))
                {
                    Console.WriteLine(line);
                }
            }
            catch (ContainerException e)
            {
                Console.Error.WriteLine("containers: " + e.Message);
                failed = true;
            }
        }

        return failed ? 1 : 0;
    }

    internal static int Tag(ContainerEngine engine, Args a)
    {
        if (a.Positionals.Count != 2)
        {
            throw new UsageException("\"tag\" requires exactly 2 arguments: SOURCE TARGET");
        }

        engine.Images.Tag(a.Positionals[0], a.Positionals[1]);
        return 0;
    }

    internal static int History(ContainerEngine engine, Args a)
    {
        var image = engine.Images.Get(Single(a, "history", "an image"));
        var rows = new List<string[]> { new[] { "IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT" } };
        var layers = image.Manifest.Layers.Reverse().ToList();
        var first = true;
        foreach (var h in image.Config.History is { } history ? history.Reverse() : [])
        {
            var size = h.EmptyLayer || layers.Count == 0 ? 0 : layers[0].Size;
            if (!h.EmptyLayer && layers.Count > 0)
            {
                layers.RemoveAt(0);
            }

            var by = h.CreatedBy ?? "";
            rows.Add([first ? image.Id.Short : "<missing>", h.Created is { } c ? Ago(c) : "N/A", a.Has("no-trunc") ? by : Truncate(by, 45), Human(size), h.Comment ?? ""]);
            first = false;
        }

        PrintTable(rows);
        return 0;
    }

    internal static async Task<int> SaveAsync(ContainerEngine engine, Args a)
    {
        if (a.Positionals.Count == 0)
        {
            throw new UsageException("\"save\" requires at least one image");
        }

        var path = a.Get("output");
        if (path is null && !Console.IsOutputRedirected)
        {
            throw new UsageException("cowardly refusing to save to a terminal. Use the -o flag or redirect");
        }

        var temp = path is null ? null : path + ".tmp-" + Environment.ProcessId;
        try
        {
            await using (var output = temp is null ? Console.OpenStandardOutput() : File.Create(temp))
            {
                await engine.Images.SaveAsync(a.Positionals, output).ConfigureAwait(false);
            }

            if (temp is not null)
            {
                File.Move(temp, path!, overwrite: true);
            }
        }
        finally
        {
            if (temp is not null)
            {
                File.Delete(temp);
            }
        }

        return 0;
    }

    internal static async Task<int> LoadAsync(ContainerEngine engine, Args a)
    {
        var path = a.Get("input");
        if (path is not null && !File.Exists(path))
        {
            throw new UsageException($"open {path}: no such file or directory");
        }

        await using var input = path is null ? Console.OpenStandardInput() : File.OpenRead(path);
        foreach (var image in await engine.Images.LoadAsync(input).ConfigureAwait(false))
        {
            Console.WriteLine(image.Names.IsEmpty ? $"Loaded image ID: {image.Id}" : string.Join('\n', image.Names.Select(n => "Loaded image: " + ImageReference.Parse(n).ToFamiliarString())));
        }

        return 0;
    }

    internal static async Task<int> ImportAsync(ContainerEngine engine, Args a)
    {
        if (a.Positionals.Count is < 1 or > 2)
        {
            throw new UsageException("\"import\" requires a file (or -) and optionally a name");
        }

        var source = a.Positionals[0];
        if (source != "-" && !File.Exists(source))
        {
            throw new UsageException($"open {source}: no such file or directory");
        }

        var config = ConfigChanges.Apply(new ContainerConfig(), a.All("change"));
        await using var input = source == "-" ? Console.OpenStandardInput() : File.OpenRead(source);
        var image = await engine.Images.ImportAsync(input, a.Positionals.Count > 1 ? a.Positionals[1] : null, config).ConfigureAwait(false);
        Console.WriteLine(image.Id);
        return 0;
    }

    internal static async Task<int> CommitAsync(ContainerEngine engine, Args a)
    {
        if (a.Positionals.Count is < 1 or > 2)
        {
            throw new UsageException("\"commit\" requires a container and optionally a name");
        }

        var changes = a.All("change");
        var image = await engine.CommitAsync(a.Positionals[0], a.Positionals.Count > 1 ? a.Positionals[1] : null, new CommitOptions
        {
            Author = a.Get("author"),
            Message = a.Get("message"),
            Changes = changes.Count == 0 ? null : c => ConfigChanges.Apply(c, changes),
        }).ConfigureAwait(false);
        Console.WriteLine(image.Id);
        return 0;
    }

    internal static int Prune(ContainerEngine engine, Args a)
    {
        var (deleted, reclaimed) = engine.Images.Prune(a.Has("all"));
        if (deleted.Count > 0)
        {
            Console.WriteLine("Deleted Images:");
            foreach (var id in deleted)
            {
                Console.WriteLine("deleted: " + id);
            }

            Console.WriteLine();
        }

        Console.WriteLine($"Total reclaimed space: {Human(reclaimed)}");
        return 0;
    }

    internal static int Inspect(ContainerEngine engine, Args a)
    {
        var docs = a.Positionals.Select(n => Containers.DockerApi.DockerInspect.Image(engine.Images.Get(n))).ToList();
        Console.WriteLine(Containers.DockerApi.Models.DockerJsonContext.Serialize(docs, j => j.ListImageInspect, indented: true));
        return 0;
    }

    private static string Single(Args a, string cmd, string what) =>
        a.Positionals.Count == 1 ? a.Positionals[0] : throw new UsageException($"\"{cmd}\" requires exactly one argument: {what}");

    internal static string Human(long bytes) => bytes >= 1_000_000_000 ? $"{bytes / 1e9:0.##}GB"
        : bytes >= 1_000_000 ? $"{bytes / 1e6:0.##}MB" : bytes >= 1000 ? $"{bytes / 1e3:0.##}kB" : $"{bytes}B";

    private static string Ago(DateTimeOffset t)
    {
        var d = DateTimeOffset.UtcNow - t;
        return (d.TotalSeconds < 60 ? $"{(int)d.TotalSeconds} seconds" : d.TotalMinutes < 60 ? $"{(int)d.TotalMinutes} minutes"
            : d.TotalHours < 48 ? $"{(int)d.TotalHours} hours" : $"{(int)d.TotalDays} days") + " ago";
    }

    private static string Truncate(string s, int n) => s.Length <= n ? s : s[..(n - 1)] + "…";

    private static void PrintTable(List<string[]> rows)
    {
        var widths = Enumerable.Range(0, rows[0].Length).Select(i => rows.Max(r => r[i].Length)).ToArray();
        foreach (var r in rows)
        {
            Console.WriteLine(string.Join("   ", r.Select((c, i) => i == r.Length - 1 ? c : c.PadRight(widths[i]))).TrimEnd());
        }
    }
}

/// <summary>docker-style per-layer progress on stderr: redrawn bars on a terminal, one line per state change otherwise.</summary>
internal sealed class ProgressBars : IProgress<LayerProgress>, IDisposable
{
    private readonly Lock gate = new();
    private readonly List<Digest> order = [];
    private readonly Dictionary<Digest, LayerProgress> state = [];
    private readonly bool tty = !Console.IsErrorRedirected;
    private int drawn;
    private bool disposed;

    public void Report(LayerProgress value)
    {
        lock (gate)
        {
            if (disposed)
            {
                return;
            }

            if (!state.TryGetValue(value.Digest, out var previous))
            {
                order.Add(value.Digest);
            }
            else if (!tty && previous.Phase == value.Phase)
            {
                state[value.Digest] = value;
                return;
            }

            state[value.Digest] = value;
            if (tty)
            {
                Redraw();
            }
            else
            {
                Console.Error.WriteLine(Line(value));
            }
        }
    }

    public void Dispose()
    {
        lock (gate)
        {
            disposed = true;
        }
    }

    private void Redraw()
    {
        var sb = new System.Text.StringBuilder();
        if (drawn > 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"\u001b[{drawn}A");
        }

        foreach (var d in order)
        {
            sb.Append("\u001b[2K").Append(Line(state[d])).Append('\n');
        }

        drawn = order.Count;
        Console.Error.Write(sb.ToString());
    }

    private static string Line(LayerProgress p)
    {
        var id = p.Digest.Short;
        return p.Phase switch
        {
            LayerPhase.Waiting => $"{id}: Waiting",
            LayerPhase.AlreadyExists => $"{id}: Already exists",
            LayerPhase.Mounted => $"{id}: Mounted from another repository",
            LayerPhase.Complete => $"{id}: Complete",
            _ => $"{id}: Transferring {Bar(p.Current, p.Total)} {ImageCommands.Human(p.Current)}/{ImageCommands.Human(p.Total)}",
        };
    }

    private static string Bar(long current, long total)
    {
        const int width = 40;
        var filled = total <= 0 ? 0 : (int)Math.Min(width, current * width / total);
        return "[" + new string('=', Math.Max(0, filled - 1)) + (filled > 0 ? ">" : "") + new string(' ', width - filled) + "]";
    }
}
