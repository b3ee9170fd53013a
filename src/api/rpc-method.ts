/**
 * What a service implements, independent of the transport: the gRPC server (HTTP/2 frames) and
 * the JSON gateway (HTTP/1.1 or HTTP/2 JSON bodies) both drive these handlers, so every RPC has
 * one implementation and one error mapping whichever way the client came in.
 *
 * Requests arrive as decoded protobufjs messages (field names as in the .proto, int64 as Long);
 * responses are plain objects holding only non-default fields (see response-messages.ts).
 */
import type { WireMessage } from './response-messages.ts';

/** A decoded request: protobufjs message objects are indexable by field name. */
export type RequestMessage = Readonly<Record<string, unknown>>;

export interface UnaryMethod {
  readonly kind: 'unary';
  /**
   * The request becomes a raft proposal, so it is held to --max-request-bytes (etcd checks the
   * marshalled proposal; its reads are only bounded by the gRPC receive limit).
   */
  readonly proposes: boolean;
  call(request: RequestMessage): Promise<WireMessage>;
}

/** The server side of a streaming call, as a service sees it. */
export interface StreamCall {
  /** Queues a response. Returns false when the transport's buffer is full (see drained). */
  send(response: WireMessage): boolean;
  /** Resolves once queued responses have been handed to the socket, or the call closed. */
  drained(): Promise<void>;
  /** Ends the call: OK without an error, else the error's etcd status. Idempotent. */
  end(error?: unknown): void;
  readonly closed: boolean;
  /** Runs once when the call ends for any reason (end, client reset, deadline, shutdown). */
  onClose(listener: () => void): void;
  /** A request header (gRPC metadata) by lower-case name. */
  metadata(name: string): string | undefined;
}

/** What a streaming service does with the client's messages on one call. */
export interface StreamSession {
  message(request: RequestMessage): void;
  /** The client finished sending (gRPC half-close, end of the HTTP body). */
  halfClose(): void;
}

export interface StreamMethod {
  readonly kind: 'stream';
  open(call: StreamCall): StreamSession;
}

export type MethodHandler = UnaryMethod | StreamMethod;

export function unary(call: UnaryMethod['call'], proposes = false): UnaryMethod {
  return { kind: 'unary', proposes, call };
}
