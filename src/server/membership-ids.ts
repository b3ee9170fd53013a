/**
 * Ids and URL checks for members added at run time.
 *
 * etcd's MemberAdd derives the new member's id from SHA-1 over its sorted peer URLs joined,
 * followed by the current Unix time in seconds as decimal text (the cluster token is left
 * empty on this path; checked against etcd 3.4: a member added at second 1795629307 with
 * peer URL http://127.0.0.1:23802 got id 12486965837594994616). The first 8 bytes, big-endian,
 * are the id.
 */
import { createHash } from 'node:crypto';
import { ServerError } from './server-error.ts';

export function deriveAddedMemberId(peerUrls: readonly string[], unixSeconds: number): bigint {
  const input = [...peerUrls].sort().join('') + String(Math.floor(unixSeconds));
  const id = createHash('sha1').update(input, 'utf8').digest().readBigUInt64BE(0);
  // Zero is raft's "nobody"; a hash of zero is as likely as a collision, and as fatal.
  return id === 0n ? 1n : id;
}

/** etcd accepts http(s) URLs naming a host and port and nothing else. */
export function checkPeerUrls(peerUrls: readonly string[]): readonly string[] {
  if (peerUrls.length === 0) throw new ServerError('invalid-member-urls');
  for (const text of peerUrls) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new ServerError('invalid-member-urls');
    }
    const pathless = url.pathname === '/' || url.pathname === '';
    const httpish = url.protocol === 'http:' || url.protocol === 'https:';
    if (!httpish || url.port === '' || !pathless || url.search !== '' || url.hash !== '') {
      throw new ServerError('invalid-member-urls');
    }
  }
  if (new Set(peerUrls).size !== peerUrls.length) throw new ServerError('invalid-member-urls');
  return peerUrls;
}
