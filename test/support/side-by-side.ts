/**
 * A Sigil KV cluster and a real etcd cluster of the same size, started at once for tests that
 * run the same command against both and compare.
 */
import { type EtcdCluster, startEtcd } from './etcd-process.ts';
import { type SigildCluster, startSigildCluster } from './sigild-cluster.ts';

export interface SideBySide {
  readonly sigil: SigildCluster;
  readonly etcd: EtcdCluster;
}

/** If either fails to start, the other is stopped before the error is thrown: nothing leaks. */
export async function startSideBySide(members: number): Promise<SideBySide> {
  const [sigil, etcd] = await Promise.allSettled([
    startSigildCluster({ members }),
    startEtcd({ members }),
  ]);
  if (sigil.status === 'fulfilled' && etcd.status === 'fulfilled') {
    return { sigil: sigil.value, etcd: etcd.value };
  }
  await Promise.all([
    sigil.status === 'fulfilled' ? sigil.value.stop() : undefined,
    etcd.status === 'fulfilled' ? etcd.value.stop() : undefined,
  ]);
  throw sigil.status === 'rejected' ? sigil.reason : (etcd as PromiseRejectedResult).reason;
}
