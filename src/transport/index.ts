export type {
  PeerTransport,
  PeerStats,
  MessageHandler,
  UnreachableHandler,
  SnapshotStatusHandler,
} from './peer-transport.ts';
export { TcpPeerTransport, type TcpPeerTransportOptions } from './tcp-peer-transport.ts';
export { fetchClusterInfo } from './cluster-info-probe.ts';
export { DEFAULT_TRANSPORT_LIMITS, type TransportLimits } from './transport-options.ts';
export { type Logger, silentLogger } from './logger.ts';
export { FrameDecodeError } from './frame-decode-error.ts';
export {
  encodeMessage,
  estimateMessageBytes,
  decodeMessage,
  isLocalMessageType,
  MESSAGE_BYTES_MAX,
  CONTEXT_BYTES_MAX,
} from './message-codec.ts';
export { FRAME_BYTES_MAX, PROTOCOL_VERSION } from './frame-codec.ts';
export {
  inlineSnapshotStreams,
  type SnapshotSink,
  type SnapshotStreams,
} from './snapshot-streams.ts';
