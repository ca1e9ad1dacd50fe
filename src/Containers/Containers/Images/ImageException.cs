namespace Containers.Images;

/// <summary>An image operation failed: the message names the image, registry, file or layer entry.</summary>
public class ImageException : ContainerException
{
    /// <summary>Creates the exception with a message.</summary>
    public ImageException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public ImageException(string message, Exception? inner)
        : base(message, inner)
    {
    }
}

/// <summary>An image reference or digest that does not parse (the message says which part is wrong).</summary>
public sealed class InvalidReferenceException(string message) : ImageException(message)
{
    /// <inheritdoc/>
    public override ErrorKind Kind => ErrorKind.InvalidArgument;
}

/// <summary>An image, tag or blob that is neither in the store nor in the registry asked.</summary>
public sealed class ImageNotFoundException(string message) : ImageException(message)
{
    /// <inheritdoc/>
    public override ErrorKind Kind => ErrorKind.NotFound;
}

/// <summary>Content whose digest or size is not the one it was fetched or loaded under; nothing of it was kept.</summary>
public sealed class DigestMismatchException(string message) : ImageException(message);

/// <summary>A layer archive that tries to write outside its snapshot or is otherwise malformed; nothing of it was kept.</summary>
public sealed class UnsafeLayerException(string message) : ImageException(message);

/// <summary>A registry refused or failed a request (the message names the registry, repository and HTTP status).</summary>
public sealed class RegistryException(string message, int statusCode, Exception? inner = null)
    : ImageException(message, inner)
{
    /// <summary>The HTTP status code, or 0 when the registry could not be reached.</summary>
    public int StatusCode { get; } = statusCode;
}
