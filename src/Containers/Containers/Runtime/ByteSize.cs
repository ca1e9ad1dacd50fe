namespace Containers.Runtime;

/// <summary>Docker's memory sizes: <c>64m</c>, <c>1g</c>, <c>512k</c>, <c>1024b</c> or a plain byte count.</summary>
public static class ByteSize
{
    /// <summary>Parses a size. Throws <see cref="InvalidContainerSpecException"/> naming the value.</summary>
    public static long Parse(string value)
    {
        var s = value.Trim().ToLowerInvariant();
        if (s.EndsWith('b') && s.Length > 1 && !char.IsDigit(s[^2]))
        {
            s = s[..^1];
        }

        long mult = 1;
        if (s.Length > 0 && char.IsLetter(s[^1]))
        {
            mult = s[^1] switch
            {
                'b' => 1,
                'k' => 1L << 10,
                'm' => 1L << 20,
                'g' => 1L << 30,
                't' => 1L << 40,
                _ => 0,
            };
            s = s[..^1];
        }

        if (mult == 0 || !double.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n) || n < 0)
        {
            throw new InvalidContainerSpecException($"invalid size '{value}': expected a number with an optional unit b, k, m or g (e.g. 64m)");
        }

        return (long)(n * mult);
    }
}
