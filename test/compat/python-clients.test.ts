/**
 * Python clients from Debian, unmodified, against one Sigil KV member and one real etcd 3.4
 * member side by side: python-etcd3 (gRPC: KV, txn, leases, watch, lock, status, members) and
 * Patroni's etcd3 DCS (the HTTP/JSON gateway, as a PostgreSQL HA node uses it). Each script
 * prints only facts two correct servers agree on, so the outputs must be identical. `.ci/run`
 * installs python3-etcd3 and patroni.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { EtcdCluster } from '../support/etcd-process.ts';
import { startSideBySide } from '../support/side-by-side.ts';
import { type SigildCluster, withClusterLogs } from '../support/sigild-cluster.ts';

/** Debian's interpreter: the one python3-etcd3 and patroni are installed for. */
const PYTHON = '/usr/bin/python3';
const SCRIPTS = join(import.meta.dirname, 'python');
const run = promisify(execFile);

async function runScript(script: string, endpoint: string): Promise<string> {
  const port = endpoint.split(':').at(-1) ?? '';
  try {
    const { stdout } = await run(PYTHON, [join(SCRIPTS, script), port], { timeout: 60_000 });
    return stdout;
  } catch (error) {
    const failure = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${script} against ${endpoint} failed: ${failure.message}\n${failure.stderr}`);
  }
}

let sigil: SigildCluster;
let etcd: EtcdCluster;

before(async () => {
  await run(PYTHON, ['-c', 'import etcd3, patroni.dcs.etcd3']).catch((error: Error) => {
    throw new Error(
      `python3-etcd3 and patroni are needed (apt-get install -y python3-etcd3 patroni): ${error.message}`,
    );
  });
  ({ sigil, etcd } = await startSideBySide(1));
});

after(async () => {
  await Promise.all([sigil?.stop(), etcd?.stop()]);
});

describe('Python clients side by side with etcd', { timeout: 180_000 }, () => {
  for (const script of ['etcd3_client_check.py', 'patroni_dcs_check.py']) {
    it(`${script} prints the same facts against Sigil KV as against etcd`, async () => {
      await withClusterLogs(sigil, async () => {
        const [fromSigil, fromEtcd] = await Promise.all([
          runScript(script, sigil.endpoints[0]),
          runScript(script, etcd.endpoints[0]),
        ]);
        assert.ok(fromEtcd.split('\n').length > 8, `the script ran to its end:\n${fromEtcd}`);
        assert.equal(fromSigil, fromEtcd);
      });
    });
  }
});
