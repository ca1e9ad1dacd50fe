// The namespaces most files of this project use.
global using System.Collections.Immutable;
global using System.Globalization;
global using System.Text.Json.Nodes;
global using Microsoft.AspNetCore.Http;
global using Containers.Runtime;
// the engine's types where a Docker API DTO (Containers.DockerApi.Models) has the same name
global using ContainerState = Containers.Runtime.ContainerState;
global using PortBinding = Containers.Runtime.PortBinding;
global using RestartPolicy = Containers.Runtime.RestartPolicy;
global using Ulimit = Containers.Runtime.Ulimit;
