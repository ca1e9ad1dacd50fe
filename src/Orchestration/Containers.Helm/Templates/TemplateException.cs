namespace Containers.Helm.Templates;

/// <summary>
/// A template that does not parse or fails as it runs. <see cref="Exception.Message"/> is Go's text ("template:
/// NAME:LINE: ..." or "template: NAME:LINE:COL: executing "NAME" at &lt;...&gt;: ..."); the parts are properties.
/// </summary>
public class TemplateException : Exception
{
    /// <summary>Creates the error.</summary>
    public TemplateException(string message, string template, int line, int? column, string reason, Exception? inner = null)
        : base(message, inner)
    {
        Template = template;
        Line = line;
        Column = column;
        Reason = reason;
    }

    /// <summary>The template (file) it happened in.</summary>
    public string Template { get; }

    /// <summary>The line (1-based).</summary>
    public int Line { get; }

    /// <summary>The byte column in the line (0-based, as Go counts), for errors while executing.</summary>
    public int? Column { get; }

    /// <summary>What went wrong, without the location.</summary>
    public string Reason { get; }

    /// <summary>True for an error while executing (false: while parsing).</summary>
    public bool IsExecution => Column is not null;
}

/// <summary>The error a template function returns; the executor wraps it as "error calling NAME: ...".</summary>
public class TemplateFunctionException(string message, Exception? inner = null) : Exception(message, inner);
