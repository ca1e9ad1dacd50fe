namespace Containers.Runtime;

/// <summary>Docker-style random names (adjective_surname) and name validation.</summary>
internal static class NameGenerator
{
    private static readonly string[] Left = ["admiring", "brave", "clever", "dazzling", "eager", "festive", "gallant", "happy", "jolly", "keen", "lucid", "modest", "nifty", "optimistic", "quirky", "serene", "trusting", "vibrant", "wizardly", "zealous"];
    private static readonly string[] Right = ["babbage", "curie", "darwin", "euler", "feynman", "galois", "hopper", "kepler", "lovelace", "meitner", "noether", "pascal", "ritchie", "shannon", "thompson", "turing", "wozniak", "yonath"];

    public static string Next(Func<string, bool> taken)
    {
        for (var i = 0; ; i++)
        {
            var name = $"{Left[Random.Shared.Next(Left.Length)]}_{Right[Random.Shared.Next(Right.Length)]}";
            if (i > 10)
            {
                name += Random.Shared.Next(1000).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            if (!taken(name))
            {
                return name;
            }
        }
    }

    public static bool IsValid(string name) =>
        name.Length > 0 && char.IsAsciiLetterOrDigit(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-');
}
