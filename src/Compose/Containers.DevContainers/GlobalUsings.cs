// The namespaces most files of this project use.
global using System.Collections.Immutable;
global using System.Globalization;
global using System.Text.Json;
global using System.Text.Json.Nodes;
global using Containers.Runtime;
