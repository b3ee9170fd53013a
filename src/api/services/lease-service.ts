/**
 * etcdserverpb.Lease. Lease ids are full signed 64-bit values end to end (bigint inside,
 * Long on the wire). Keep-alives follow etcd's v3rpc/lease.go: one response per request, in
 * order; an unknown or expired lease answers TTL 0 rather than an error; the stream ends OK
 * when the client half-closes.
 */
import type { ServerApi } from '../../server/server-api.ts';
import { isServerError } from '../../server/server-error.ts';
import { API_ERRORS } from '../etcd-errors.ts';
import { headerMessage, type WireMessage } from '../response-messages.ts';
import { type MethodHandler, type RequestMessage, type StreamCall, unary } from '../rpc-method.ts';
import { longOf, toBigInt, toNumber, type WireInt64 } from '../wire-values.ts';

function idMessage(message: WireMessage, id: bigint): WireMessage {
  if (id !== 0n) message.ID = longOf(id, false);
  return message;
}

function keepAliveSession(server: ServerApi, call: StreamCall) {
  // Requests are answered strictly in order: chain each renewal behind the previous one.
  let tail = Promise.resolve();
  const renew = async (id: bigint): Promise<void> => {
    let response: WireMessage;
    try {
      const renewed = await server.leaseKeepAlive(id);
      response = idMessage({ header: headerMessage(renewed.header) }, id);
      if (renewed.ttl !== 0) response.TTL = renewed.ttl;
    } catch (error) {
      if (!(isServerError(error) && error.code === 'lease-not-found')) throw error;
      response = idMessage({ header: headerMessage(server.header()) }, id);
    }
    if (!call.send(response)) await call.drained();
  };
  return {
    message(request: RequestMessage): void {
      const id = toBigInt(request.ID as WireInt64);
      tail = tail.then(() => (call.closed ? undefined : renew(id)));
      tail.catch((error: unknown) => call.end(error));
    },
    halfClose(): void {
      tail.then(
        () => call.end(),
        (error: unknown) => call.end(error),
      );
    },
  };
}

export function leaseMethods(server: ServerApi): Record<string, MethodHandler> {
  return {
    LeaseGrant: unary(async (request) => {
      const id = toBigInt(request.ID as WireInt64);
      const granted = await server.leaseGrant(toNumber(request.TTL as WireInt64), id);
      const message = idMessage({ header: headerMessage(granted.header) }, granted.id);
      if (granted.ttl !== 0) message.TTL = granted.ttl;
      return message;
    }, true),
    LeaseRevoke: unary(async (request) => {
      const revoked = await server.leaseRevoke(toBigInt(request.ID as WireInt64));
      return { header: headerMessage(revoked.header) };
    }, true),
    LeaseKeepAlive: {
      kind: 'stream',
      open: (call) => {
        const session = keepAliveSession(server, call);
        if (call.metadata('hasleader') === 'true') {
          server.status().then(
            (status) => {
              if (status.leader === 0n) call.end(API_ERRORS.noLeader());
            },
            (error: unknown) => call.end(error),
          );
        }
        return session;
      },
    },
    LeaseTimeToLive: unary(async (request) => {
      const id = toBigInt(request.ID as WireInt64);
      const lease = await server.leaseTimeToLive(id, request.keys === true);
      const message = idMessage({ header: headerMessage(lease.header) }, lease.id);
      if (lease.ttl !== 0) message.TTL = lease.ttl;
      if (lease.grantedTtl !== 0) message.grantedTTL = lease.grantedTtl;
      if (lease.keys.length !== 0) message.keys = lease.keys;
      return message;
    }),
    LeaseLeases: unary(async () => {
      const { header, leases } = await server.leaseLeases();
      const message: WireMessage = { header: headerMessage(header) };
      if (leases.length !== 0) message.leases = leases.map((id) => idMessage({}, id));
      return message;
    }),
  };
}
