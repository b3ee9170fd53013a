/**
 * The one error the decoders throw for bytes that are not a valid frame or message. Peers are
 * other processes (or attackers on the peer port), so malformed input is an operating error, not
 * a bug: the transport catches exactly this class, closes the connection and keeps serving.
 * Anything else escaping a decoder is a bug in the decoder and must stay loud.
 */
export class FrameDecodeError extends Error {
  override readonly name = 'FrameDecodeError';
}
