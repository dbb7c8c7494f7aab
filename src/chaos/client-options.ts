/** The chaos workload's SDK clients' options (workload.ts, workload-versions.ts). */

/** SDK options for chaos clients: quick to retry, never giving up. `auth`: the key, or an authCallback. */
export function clientOptions(endpoint: { host: string; port: number }, auth: Record<string, unknown>, useBinaryProtocol: boolean): Record<string, unknown> {
  return {
    ...auth,
    endpoint: endpoint.host,
    port: endpoint.port,
    tls: false,
    useBinaryProtocol,
    disableConnectivityCheck: true,
    disconnectedRetryTimeout: 500,
    suspendedRetryTimeout: 1000,
    channelRetryTimeout: 1000,
    logLevel: 0,
  };
}
