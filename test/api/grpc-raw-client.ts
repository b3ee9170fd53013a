/**
 * A bare gRPC-over-HTTP/2 caller for tests that must send what real clients never would
 * (garbage frames, truncated frames, compressed flags, unknown methods) and read the raw
 * status trailers back.
 */
import { connect, type ClientHttp2Session } from 'node:http2';
import { loadProtoCodec } from '../../src/api/proto/server-codec.ts';

export interface RawResult {
  readonly status: number | undefined;
  readonly message: string | undefined;
  readonly messages: Buffer[];
  readonly headers: Record<string, unknown>;
}

export function frame(body: Uint8Array, flag = 0): Buffer {
  const out = Buffer.alloc(5 + body.length);
  out[0] = flag;
  out.writeUInt32BE(body.length, 1);
  out.set(body, 5);
  return out;
}

export function encode(typeName: string, message: Record<string, unknown>): Uint8Array {
  const type = loadProtoCodec().type(typeName);
  return type.encode(type.fromObject(message)).finish();
}

export function decode(typeName: string, bytes: Uint8Array): Record<string, unknown> {
  const type = loadProtoCodec().type(typeName);
  return type.toObject(type.decode(bytes), { longs: String, defaults: false }) as Record<
    string,
    unknown
  >;
}

/** Splits a response body into its length-prefixed messages. */
function unframe(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let offset = 0;
  while (offset + 5 <= data.length) {
    const length = data.readUInt32BE(offset + 1);
    out.push(data.subarray(offset + 5, offset + 5 + length));
    offset += 5 + length;
  }
  return out;
}

export function rawCall(
  session: ClientHttp2Session,
  path: string,
  body: Buffer,
  extraHeaders: Record<string, string> = {},
  timeoutMs = 5_000,
): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...extraHeaders,
    });
    const timer = setTimeout(() => {
      stream.close();
      reject(new Error(`no answer from ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    let headers: Record<string, unknown> = {};
    let trailers: Record<string, unknown> = {};
    const chunks: Buffer[] = [];
    stream.on('response', (received) => (headers = received));
    stream.on('trailers', (received) => (trailers = received));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    stream.on('close', () => {
      clearTimeout(timer);
      const all = { ...headers, ...trailers };
      const status = all['grpc-status'];
      const message = all['grpc-message'];
      resolve({
        status: status === undefined ? undefined : Number(status),
        message: typeof message === 'string' ? decodeURIComponent(message) : undefined,
        messages: unframe(Buffer.concat(chunks)),
        headers: all,
      });
    });
    stream.end(body);
  });
}

export function openSession(url: string): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = connect(url);
    session.once('connect', () => resolve(session));
    session.once('error', reject);
  });
}
