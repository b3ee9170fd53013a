/**
 * The peer proxy on real sockets, with hellos encoded by the transport's own codec: it names the
 * sender of each connection from its hello, forwards both ways, and cuts exactly the directed
 * links it is told to (blackhole: bytes vanish and the connection is closed on healing; reset:
 * the connection is closed at once).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { asMemberId } from '../../src/base/index.ts';
import { encodeHello } from '../../src/transport/peer-protocol.ts';
import { allocatePort } from '../support/sigild-cluster.ts';
import { waitFor, sleep } from '../support/wait-for.ts';
import { PeerLinkFaults, PeerProxy } from './peer-proxy.ts';

const IDS = [0x11n, 0x22n, 0x33n];

async function startEchoMember(): Promise<{
  port: number;
  received: () => number;
  close: () => void;
}> {
  let received = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('data', (chunk) => {
      received += chunk.length;
      socket.write(chunk);
    });
    socket.on('error', () => undefined);
  });
  const port = await allocatePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  return {
    port,
    received: () => received,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

function dial(
  port: number,
  from: number,
): { socket: net.Socket; echoed: () => number; closed: () => boolean } {
  const socket = net.connect({ host: '127.0.0.1', port });
  let echoed = 0;
  let closed = false;
  socket.on('data', (chunk) => (echoed += chunk.length));
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  socket.write(encodeHello({ clusterId: 7n, from: asMemberId(IDS[from]), to: asMemberId(IDS[0]) }));
  return { socket, echoed: () => echoed, closed: () => closed };
}

test('the proxy forwards, blackholes and resets exactly the links it is told to', async (t) => {
  const member = await startEchoMember();
  const faults = new PeerLinkFaults();
  const proxy = new PeerProxy({
    to: 0,
    listenPort: await allocatePort(),
    targetPort: member.port,
    faults,
    memberIndexOf: (id) => {
      const index = IDS.indexOf(id);
      return index < 0 ? undefined : index;
    },
  });
  const proxyPort = proxy.port;
  await proxy.start();
  t.after(async () => {
    await proxy.stop();
    member.close();
  });

  const fromOne = dial(proxyPort, 1);
  const fromTwo = dial(proxyPort, 2);
  await waitFor('both hellos echoed', () =>
    fromOne.echoed() >= 34 && fromTwo.echoed() >= 34 ? true : undefined,
  );

  // Blackhole 1 -> 0 only: 2's link keeps working, 1's bytes vanish, both ways.
  faults.cutLink(1, 0, 'blackhole');
  const beforeOne = fromOne.echoed();
  fromOne.socket.write(Buffer.alloc(100, 1));
  fromTwo.socket.write(Buffer.alloc(100, 2));
  await waitFor('2 still echoed', () => (fromTwo.echoed() >= 134 ? true : undefined));
  await sleep(200);
  assert.equal(fromOne.echoed(), beforeOne, 'nothing crosses a blackholed link');
  assert.equal(fromOne.closed(), false, 'a blackhole does not close the connection');

  // Healing closes the swallowed connection (its stream lost bytes); 2's stays open.
  faults.healAll();
  await waitFor('blackholed connection closed on heal', () =>
    fromOne.closed() ? true : undefined,
  );
  assert.equal(fromTwo.closed(), false);

  // Reset: 2 -> 0 is closed at once, and a new connection from 2 is closed after its hello.
  faults.cutLink(2, 0, 'reset');
  await waitFor('reset closes the connection', () => (fromTwo.closed() ? true : undefined));
  const again = dial(proxyPort, 2);
  await waitFor('a new connection on a reset link is closed', () =>
    again.closed() ? true : undefined,
  );
  // The reverse direction (0 -> 2) is another proxy's business: 1 -> 0 still works here.
  const fresh = dial(proxyPort, 1);
  await waitFor('1 -> 0 works again', () => (fresh.echoed() >= 34 ? true : undefined));
  fresh.socket.destroy();
});
