/**
 * Peer URLs arrive in etcd's form (`http://host:2380`). The transport speaks its own framing
 * over plain TCP, so only the host and port matter; `https` is refused until TLS is supported
 * rather than silently sending in clear text to a peer that expects TLS.
 */
export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

const ACCEPTED_SCHEMES: ReadonlySet<string> = new Set(['http:', 'tcp:']);

/** Throws a RangeError naming the URL: a bad peer URL is a configuration error. */
export function parsePeerUrl(url: string): PeerAddress {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RangeError(`invalid peer URL ${JSON.stringify(url)}`);
  }
  if (!ACCEPTED_SCHEMES.has(parsed.protocol)) {
    throw new RangeError(`peer URL ${url}: scheme ${parsed.protocol} not supported (use http://)`);
  }
  const port = Number(parsed.port);
  if (parsed.port === '' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`peer URL ${url}: needs an explicit port`);
  }
  // URL keeps IPv6 hosts bracketed; net.connect wants them bare.
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port };
}

export function parsePeerUrls(urls: readonly string[]): PeerAddress[] {
  if (urls.length === 0) throw new RangeError('a peer needs at least one URL');
  return urls.map(parsePeerUrl);
}
