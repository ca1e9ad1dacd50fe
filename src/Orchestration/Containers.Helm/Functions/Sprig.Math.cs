using System.Globalization;

namespace Containers.Helm.Functions;

public static partial class Sprig
{
    private static void AddMath(Adder add, Context context)
    {
        add("add1", [A], a => Cast.Int(a[0]) + 1);
        add("add", [A], a => a.Sum(Cast.Int), variadic: true);
        add("sub", [A, A], a => Cast.Int(a[0]) - Cast.Int(a[1]));
        add("div", [A, A], a => Cast.Int(a[1]) == 0 ? throw Fail("runtime error: integer divide by zero") : Cast.Int(a[0]) / Cast.Int(a[1]));
        add("mod", [A, A], a => Cast.Int(a[1]) == 0 ? throw Fail("runtime error: integer divide by zero") : Cast.Int(a[0]) % Cast.Int(a[1]));
        add("mul", [A, A], a => a.Aggregate(1L, (p, x) => p * Cast.Int(x)), variadic: true);
        add("randInt", [I, I], a => (long)context.Random.NextInt64((long)a[0]!, (long)a[1]!));
        add("add1f", [A], a => (double)((decimal)Cast.Float(a[0]) + 1m));
        add("addf", [A], a => (double)a.Aggregate(0m, (s, x) => s + (decimal)Cast.Float(x)), variadic: true);
        add("subf", [A, A], a => (double)a.Skip(1).Aggregate((decimal)Cast.Float(a[0]), (s, x) => s - (decimal)Cast.Float(x)), variadic: true);
        add("mulf", [A, A], a => (double)a.Skip(1).Aggregate((decimal)Cast.Float(a[0]), (s, x) => s * (decimal)Cast.Float(x)), variadic: true);
        add("divf", [A, A], a => (double)a.Skip(1).Aggregate((decimal)Cast.Float(a[0]), (s, x) => (decimal)Cast.Float(x) == 0 ? throw Fail("decimal division by 0") : s / (decimal)Cast.Float(x)), variadic: true);
        add("biggest", [A, A], a => a.Select(Cast.Int).Max(), variadic: true);
        add("max", [A, A], a => a.Select(Cast.Int).Max(), variadic: true);
        add("min", [A, A], a => a.Select(Cast.Int).Min(), variadic: true);
        add("maxf", [A, A], a => a.Select(Cast.Float).Max(), variadic: true);
        add("minf", [A, A], a => a.Select(Cast.Float).Min(), variadic: true);
        add("floor", [A], a => Math.Floor(Cast.Float(a[0])));
        add("ceil", [A], a => Math.Ceiling(Cast.Float(a[0])));
        add("round", [A, I, F], a =>
        {
            double value = Cast.Float(a[0]);
            double roundOn = a.Length > 2 ? (double)a[2]! : 0.5;
            double pow = Math.Pow(10, (long)a[1]!);
            double digit = pow * value;
            double whole = Math.Truncate(digit);
            double div = digit - whole;
            double round = div >= roundOn ? Math.Ceiling(digit) : Math.Floor(digit);
            return round / pow;
        }, variadic: true);
        add("int64", [A], a => Cast.Int(a[0]));
        add("int", [A], a => Cast.Int(a[0]));
        add("float64", [A], a => Cast.Float(a[0]));
        add("atoi", [S], a => long.TryParse((string)a[0]!, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v) ? v : 0L);
        add("toDecimal", [A], a =>
        {
            try
            {
                return Convert.ToInt64(Str(a[0]), 8);
            }
            catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
            {
                return 0L;
            }
        });
    }
}
