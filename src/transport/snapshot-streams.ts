/**
 * Where the data of a MsgSnap comes from and goes to (etcd's "merged snapshot message").
 *
 * A raft snapshot carries only metadata; the state it stands for is the member's backend. So
 * the transport does not find the data in the message: when a MsgSnap leaves, it asks
 * `outgoing` for a stream, read at that moment (from one read transaction of the backend, so it
 * may be newer than the snapshot's index); when one arrives, it hands the data to an `incoming`
 * sink, and delivers the MsgSnap to raft only once the sink has made it durable. The member
 * registers both (PeerTransport.setSnapshotStreams). Without a registration the data is the
 * message's own `snapshot.data`, carried inline (tests of the transport alone).
 */
import { concatBytes } from '../base/index.ts';
import type { Message } from '../raft/types.ts';

export interface SnapshotSink {
  write(chunk: Uint8Array): Promise<void>;
  /** Everything was written: make it durable. Resolves to the `snapshot.data` raft gets. */
  commit(): Promise<Uint8Array>;
  /** The stream broke off; drop what was written. */
  abort(): Promise<void>;
}

export interface SnapshotStreams {
  /** The data of an outgoing MsgSnap, read when it is sent. */
  outgoing(message: Message): AsyncIterable<Uint8Array>;
  /** A sink for the data of an incoming MsgSnap (already checked to be addressed to us). */
  incoming(message: Message): Promise<SnapshotSink>;
}

/** The default: a MsgSnap's data travels inline, as its `snapshot.data`. */
export const inlineSnapshotStreams: SnapshotStreams = {
  async *outgoing(message) {
    const data = message.snapshot?.data;
    if (data !== undefined && data.length > 0) yield data;
  },
  async incoming() {
    const chunks: Uint8Array[] = [];
    return {
      async write(chunk) {
        chunks.push(chunk);
      },
      async commit() {
        return concatBytes(chunks);
      },
      async abort() {
        chunks.length = 0;
      },
    };
  },
};
