// containers-monitor: started by ContainerEngine.StartDetachedAsync, never by hand.
return await Containers.ContainerMonitorHost.RunAsync(args).ConfigureAwait(false);
