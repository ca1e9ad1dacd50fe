using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Konscious.Security.Cryptography;

namespace Containers.Dashboard;

/// <summary>The admin's password (Argon2id), sessions with their CSRF tokens, API tokens and the login rate limit.</summary>
internal sealed class DashboardAuth
{
    // OWASP's Argon2id floor (m=19 MiB, t=2, p=1): about 60-120 ms a login here, and 19 MiB of memory for each guess
    private const int MemoryKiB = 19456, Iterations = 2, Parallelism = 1, HashBytes = 32;

    private readonly DashboardOptions options;
    private readonly string adminFile, tokensFile;
    private readonly ConcurrentDictionary<string, Session> sessions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Queue<DateTime>> failures = new();
    private readonly Lock tokensLock = new();
    private AdminRecord? admin;
    private List<TokenRecord> tokens;

    public DashboardAuth(DashboardOptions options)
    {
        this.options = options;
        Directory.CreateDirectory(options.DataDirectory);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(options.DataDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        adminFile = Path.Combine(options.DataDirectory, "admin.json");
        tokensFile = Path.Combine(options.DataDirectory, "tokens.json");
        admin = File.Exists(adminFile) ? System.Text.Json.JsonSerializer.Deserialize(File.ReadAllBytes(adminFile), DashboardJson.Default.AdminRecord) : null;
        tokens = File.Exists(tokensFile) ? System.Text.Json.JsonSerializer.Deserialize(File.ReadAllBytes(tokensFile), DashboardJson.Default.ListTokenRecord) ?? [] : [];
        if (options.AdminPassword is { } password)
        {
            SetPassword(password);
        }
    }

    private DateTime Now => options.Time.GetUtcNow().UtcDateTime;

    /// <summary>Whether the admin's password has been set.</summary>
    public bool Initialized => Volatile.Read(ref admin) is not null;

    /// <summary>The shortest password accepted (Portainer's).</summary>
    public const int MinPasswordLength = 12;

    /// <summary>Sets the admin's password (first run, or an unattended start), hashed with a fresh salt.</summary>
    public void SetPassword(string password)
    {
        if (password.Length < MinPasswordLength)
        {
            throw new ArgumentException($"the admin password must have at least {MinPasswordLength} characters");
        }

        var salt = RandomNumberGenerator.GetBytes(16);
        var record = new AdminRecord("argon2id", MemoryKiB, Iterations, Parallelism, Convert.ToBase64String(salt), Convert.ToBase64String(Hash(password, salt, MemoryKiB, Iterations, Parallelism)));
        WritePrivate(adminFile, System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(record, DashboardJson.Default.AdminRecord));
        Volatile.Write(ref admin, record);
    }

    /// <summary>Sets the password only if none is set yet (the first visitor's); false when one was.</summary>
    public bool TrySetFirstPassword(string password)
    {
        lock (tokensLock)
        {
            if (Initialized)
            {
                return false;
            }

            SetPassword(password);
            return true;
        }
    }

    private static byte[] Hash(string password, byte[] salt, int memoryKiB, int iterations, int parallelism)
    {
        using var argon = new Argon2id(Encoding.UTF8.GetBytes(password)) { Salt = salt, MemorySize = memoryKiB, Iterations = iterations, DegreeOfParallelism = parallelism };
        return argon.GetBytes(HashBytes);
    }

    /// <summary>
    /// How long <paramref name="client"/> must wait before its next attempt (null: it may try now): after
    /// <see cref="DashboardOptions.MaxFailedLogins"/> failures within the window, until the oldest leaves it.
    /// </summary>
    public TimeSpan? RetryAfter(IPAddress? client)
    {
        var queue = failures.GetOrAdd(client?.ToString() ?? "", _ => new Queue<DateTime>());
        lock (queue)
        {
            var now = Now;
            while (queue.Count > 0 && now - queue.Peek() >= options.LoginWindow)
            {
                queue.Dequeue();
            }

            return queue.Count >= options.MaxFailedLogins ? queue.Peek() + options.LoginWindow - now : null;
        }
    }

    /// <summary>Checks a password; a wrong one counts against <paramref name="client"/>.</summary>
    public bool CheckPassword(string password, IPAddress? client)
    {
        var record = Volatile.Read(ref admin);
        bool ok = record is not null
            && CryptographicOperations.FixedTimeEquals(Hash(password, Convert.FromBase64String(record.Salt), record.MemoryKiB, record.Iterations, record.Parallelism), Convert.FromBase64String(record.Hash));
        if (!ok)
        {
            var queue = failures.GetOrAdd(client?.ToString() ?? "", _ => new Queue<DateTime>());
            lock (queue)
            {
                queue.Enqueue(Now);
            }
        }

        return ok;
    }

    /// <summary>A new session: its cookie value and CSRF token.</summary>
    public Session NewSession()
    {
        var session = new Session(Token(), Token()) { LastSeen = Now };
        sessions[session.Id] = session;
        foreach (var old in sessions.Values.Where(s => Now - s.LastSeen > options.SessionIdleTimeout))
        {
            sessions.TryRemove(old.Id, out _);
        }

        return session;
    }

    /// <summary>The live session a cookie names (its idle time restarts), or null.</summary>
    public Session? FindSession(string? id)
    {
        if (id is null || !sessions.TryGetValue(id, out var session))
        {
            return null;
        }

        if (Now - session.LastSeen > options.SessionIdleTimeout)
        {
            sessions.TryRemove(id, out _);
            return null;
        }

        session.LastSeen = Now;
        return session;
    }

    /// <summary>Ends a session.</summary>
    public void EndSession(string id) => sessions.TryRemove(id, out _);

    /// <summary>Creates an API token named <paramref name="name"/>: its value is returned once and only its hash kept.</summary>
    public string CreateToken(string name)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > 100)
        {
            throw new ArgumentException("a token needs a name of 1-100 characters");
        }

        string value = "cdt_" + Token();
        lock (tokensLock)
        {
            if (tokens.Any(t => t.Name == name))
            {
                throw new ArgumentException($"a token named '{name}' exists");
            }

            tokens = [.. tokens, new TokenRecord(name, Sha256(value), Now, null)];
            SaveTokens();
        }

        return value;
    }

    /// <summary>The tokens (names and dates; never their values).</summary>
    public IReadOnlyList<TokenRecord> Tokens => Volatile.Read(ref tokens);

    /// <summary>Removes a token; false when none has that name.</summary>
    public bool DeleteToken(string name)
    {
        lock (tokensLock)
        {
            int before = tokens.Count;
            tokens = [.. tokens.Where(t => t.Name != name)];
            SaveTokens();
            return tokens.Count != before;
        }
    }

    /// <summary>Whether a bearer token is one of ours (compared by hash, in constant time).</summary>
    public bool CheckToken(string value)
    {
        var hash = Sha256(value);
        foreach (var t in Volatile.Read(ref tokens))
        {
            if (CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(t.Sha256), Encoding.ASCII.GetBytes(hash)))
            {
                lock (tokensLock)
                {
                    tokens = [.. tokens.Select(x => x.Name == t.Name ? x with { LastUsed = Now } : x)];
                }

                return true;
            }
        }

        return false;
    }

    private void SaveTokens() => WritePrivate(tokensFile, System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(tokens, DashboardJson.Default.ListTokenRecord));

    private static string Sha256(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)));

    private static string Token() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>Writes a file only its owner may read, atomically (a temporary file renamed over it).</summary>
    private static void WritePrivate(string path, byte[] bytes)
    {
        string temp = path + ".tmp";
        using (var f = new FileStream(temp, new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite }))
        {
            f.Write(bytes);
            f.Flush(true);
        }

        File.Move(temp, path, overwrite: true);
    }

    /// <summary>A browser's session.</summary>
    internal sealed record Session(string Id, string Csrf)
    {
        public DateTime LastSeen { get; set; }
    }
}

/// <summary>The admin's password hash as stored.</summary>
internal sealed record AdminRecord(string Algorithm, int MemoryKiB, int Iterations, int Parallelism, string Salt, string Hash);

/// <summary>An API token as stored: its name, the SHA-256 of its value, and when it was made and last used.</summary>
internal sealed record TokenRecord(string Name, string Sha256, DateTime Created, DateTime? LastUsed);
