/**
 * Starts the client API over a LocalServer fixture on a free loopback port, for test/api.
 */
import { type ClientApi, startClientApi } from '../../src/api/index.ts';
import { LocalServer, type LocalServerOptions } from '../support/local-server.ts';

export interface RunningApi {
  readonly server: LocalServer;
  readonly api: ClientApi;
  /** `127.0.0.1:port`, as etcdctl and etcd3 take endpoints. */
  readonly endpoint: string;
  readonly url: string;
  readonly errors: unknown[];
  stop(): Promise<void>;
}

export async function startLocalApi(
  options: LocalServerOptions & { progressNotifyIntervalMs?: number } = {},
): Promise<RunningApi> {
  const server = new LocalServer(options);
  const errors: unknown[] = [];
  const logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: (object: object) => void errors.push(object),
  };
  const api = await startClientApi(server, {
    listenClientUrls: ['http://127.0.0.1:0'],
    maxRequestBytes: server.limits.maxRequestBytes,
    maxTxnOps: server.limits.maxTxnOps,
    logger,
    progressNotifyIntervalMs: options.progressNotifyIntervalMs,
  });
  const endpoint = `127.0.0.1:${api.addresses[0].port}`;
  server.clientUrls = [`http://${endpoint}`];
  return {
    server,
    api,
    endpoint,
    url: `http://${endpoint}`,
    errors,
    stop: async () => {
      await api.close();
      server.close();
    },
  };
}
