using System.Security.Cryptography;

namespace Containers.Images;

/// <summary>A content digest, <c>algorithm:hex</c> (only sha256 is produced; sha512 is accepted when verifying).</summary>
public readonly record struct Digest
{
    private Digest(string algorithm, string hex)
    {
        Algorithm = algorithm;
        Hex = hex;
    }

    /// <summary>The algorithm, <c>sha256</c> or <c>sha512</c>.</summary>
    public string Algorithm { get; }

    /// <summary>The lower-case hex encoding of the hash.</summary>
    public string Hex { get; }

    /// <summary>The first 12 hex characters, as docker shows image ids.</summary>
    public string Short => Hex[..12];

    /// <summary>Parses <c>sha256:&lt;64 hex&gt;</c>. Throws <see cref="InvalidReferenceException"/> naming the value.</summary>
    public static Digest Parse(string value) =>
        TryParse(value, out var d) ? d : throw new InvalidReferenceException($"invalid digest '{value}': expected sha256:<64 lower-case hex digits>");

    /// <summary>Parses a digest, returning false when <paramref name="value"/> is not one.</summary>
    public static bool TryParse(string? value, out Digest digest)
    {
        digest = default;
        if (value is null)
        {
            return false;
        }

        var colon = value.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            return false;
        }

        var alg = value[..colon];
        var hex = value[(colon + 1)..];
        var length = alg switch { "sha256" => 64, "sha512" => 128, _ => -1 };
        if (hex.Length != length || !hex.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f'))
        {
            return false;
        }

        digest = new Digest(alg, hex);
        return true;
    }

    /// <summary>The sha256 digest of <paramref name="data"/>.</summary>
    public static Digest Of(ReadOnlySpan<byte> data) => FromHash(SHA256.HashData(data));

    /// <summary>A sha256 digest from a finished hash.</summary>
    public static Digest FromHash(ReadOnlySpan<byte> sha256) => new("sha256", Convert.ToHexStringLower(sha256));

    /// <summary>The chain ID of a layer over its parent's chain ID (OCI image spec): sha256(parent + " " + diffId).</summary>
    public static Digest Chain(Digest? parent, Digest diffId) =>
        parent is { } p ? Of(Encoding.ASCII.GetBytes($"{p} {diffId}")) : diffId;

    /// <summary>The chain IDs of a stack of layers given by their diff IDs, base first.</summary>
    public static System.Collections.Immutable.ImmutableArray<Digest> Chains(IEnumerable<string> diffIds)
    {
        ArgumentNullException.ThrowIfNull(diffIds);
        var builder = System.Collections.Immutable.ImmutableArray.CreateBuilder<Digest>();
        Digest? parent = null;
        foreach (var diff in diffIds)
        {
            parent = Chain(parent, Parse(diff));
            builder.Add(parent.Value);
        }

        return builder.ToImmutable();
    }

    /// <summary>A hash object for this digest's algorithm.</summary>
    internal IncrementalHash CreateHash() =>
        IncrementalHash.CreateHash(Algorithm == "sha512" ? HashAlgorithmName.SHA512 : HashAlgorithmName.SHA256);

    /// <summary>The digest of a finished hash of this digest's algorithm.</summary>
    internal Digest WithHash(ReadOnlySpan<byte> hash) => new(Algorithm, Convert.ToHexStringLower(hash));

    /// <inheritdoc/>
    public override string ToString() => Algorithm is null ? "" : $"{Algorithm}:{Hex}";
}
