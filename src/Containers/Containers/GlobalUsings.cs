// The namespaces most files of this project use.
global using System.Collections.Immutable;
global using System.Globalization;
global using System.Text;
global using System.Text.Json;
global using System.Net;
global using Containers.Linux;
global using Microsoft.Extensions.Logging;
global using Containers.Images;
global using Containers.Images.Oci;
global using Containers.Runtime;
global using Containers.Networking;
