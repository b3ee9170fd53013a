/**
 * The cluster-info probe a joining member uses instead of a hello: the acceptor answers with
 * what the member gave it and closes; anything else on the port is refused with an error.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { SeededRandom } from '../../src/base/index.ts';
import { fetchClusterInfo, TcpPeerTransport } from '../../src/transport/index.ts';
import { CapturingLogger, CLUSTER_ID, systemClock } from './transport-fixtures.ts';

test('a joining member gets the cluster info a member serves, without a handshake', async () => {
  const answer = new TextEncoder().encode('{"clusterId":"c105e7e2","members":[]}');
  const transport = new TcpPeerTransport({
    localId: 7n as never,
    clusterId: CLUSTER_ID,
    listenHost: '127.0.0.1',
    listenPort: 0,
    clock: systemClock,
    random: new SeededRandom(1),
    logger: new CapturingLogger(),
    clusterInfo: () => answer,
  });
  await transport.start();
  try {
    const url = `http://127.0.0.1:${transport.listeningPort()}`;
    assert.deepEqual(new Uint8Array(await fetchClusterInfo(url, 2_000)), answer);
    // Twice: the acceptor keeps serving after answering one.
    assert.deepEqual(new Uint8Array(await fetchClusterInfo(url, 2_000)), answer);
  } finally {
    await transport.stop();
  }
});

test('a port that is not a Sigil peer port is an error, not a hang', async () => {
  const server = createServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    await assert.rejects(fetchClusterInfo(`http://127.0.0.1:${port}`, 2_000));
  } finally {
    server.close();
  }
  await assert.rejects(fetchClusterInfo('http://127.0.0.1:1', 2_000));
});
