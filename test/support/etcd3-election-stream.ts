/**
 * The `etcd3` client closes every channel it has whenever one of its watch streams errors
 * (rpc.ts marks the host failed), and that includes the CANCELLED it causes itself: a
 * namespace's watch manager cancels its stream when the namespace's last watcher goes. The
 * election recipe's observer and campaigns swap watchers as the leader changes, so each swap
 * closed the channels, and a call starting at that moment failed inside etcd3 with "Channel
 * closed before call started" (an unhandled rejection; seen once in CI). The same client against
 * etcd 3.4 resets its channels the same way, so this is the client's behaviour, not the
 * server's. A watcher held in the election's own namespace keeps that stream, and with it the
 * channels, open while the recipe works.
 */
import type { Election, Namespace } from 'etcd3';

/** Holds the watch stream of `election`'s namespace open; returns the function that lets go. */
export async function holdElectionWatchStream(election: Election): Promise<() => Promise<void>> {
  // The namespace is private in etcd3's types; it is the one the recipe watches through.
  const { namespace } = election as unknown as { namespace: Namespace };
  const watcher = await namespace.watch().key('hold-stream').create();
  return () => watcher.cancel();
}
