/**
 * Debian's etcdctl (3.4, ETCDCTL_API=3) against a three-member Sigil KV cluster of real sigild
 * processes, side by side with a real three-member etcd cluster: every scenario runs the same
 * commands in the same order on both, so revisions line up, and the outputs must match once
 * URLs, names, ids, raft terms/indexes, sizes and versions are normalised. Covers KV, txn -i,
 * watch --rev/--prefix/--prev-kv, lock with two contenders, elect with an observer, leases,
 * member list and endpoint status.
 */
import { strict as assert } from 'node:assert';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { EtcdCluster } from '../support/etcd-process.ts';
import { startSideBySide } from '../support/side-by-side.ts';
import {
  type ClusterNames,
  type CtlOutput,
  EtcdctlProcess,
  etcdctl,
  normalise,
} from '../support/etcdctl-runner.ts';
import { type SigildCluster, withClusterLogs } from '../support/sigild-cluster.ts';
import { waitFor } from '../support/wait-for.ts';

let sigil: SigildCluster;
let etcd: EtcdCluster;

interface Target {
  readonly label: 'etcd' | 'sigil';
  readonly names: ClusterNames;
  /** The endpoint of the member that leads now. */
  leader(): Promise<string>;
}
let targets: Target[] = [];

before(async () => {
  ({ sigil, etcd } = await startSideBySide(3));
  targets = [
    {
      label: 'etcd',
      names: {
        endpoints: etcd.endpoints,
        peerUrls: etcd.members.map((m) => m.peerUrl),
        names: etcd.members.map((m) => m.name),
      },
      leader: async () => {
        const out = await etcdctl(etcd.endpoints, ['endpoint', 'status', '-w', 'json']);
        const entries = JSON.parse(
          out.stdout.replace(/"(member_id|leader)":(\d+)/g, '"$1":"$2"'),
        ) as { Endpoint: string; Status: { header: { member_id: string }; leader: string } }[];
        const leader = entries.find((e) => e.Status.header.member_id === e.Status.leader);
        assert.ok(leader !== undefined, out.stdout + out.stderr);
        return leader.Endpoint;
      },
    },
    {
      label: 'sigil',
      names: {
        endpoints: sigil.endpoints,
        peerUrls: sigil.members.map((m) => m.peerUrl),
        names: sigil.members.map((m) => m.name),
      },
      leader: async () => sigil.endpoints[await sigil.waitForLeader()],
    },
  ];
});

after(async () => {
  await Promise.all([sigil?.stop(), etcd?.stop()]);
});

const [ETCD, SIGIL] = [0, 1];

/**
 * Runs one etcdctl command on both clusters and asserts the normalised outputs are equal.
 * Returns Sigil's normalised output, and both raw outputs (in `targets` order) for the ids
 * normalising hides.
 */
async function both(
  args: readonly string[],
  input?: string,
): Promise<CtlOutput & { readonly raw: readonly CtlOutput[] }> {
  const raw = await Promise.all(
    targets.map((target) => etcdctl(target.names.endpoints, args, { input })),
  );
  const outputs = raw.map((output, i) => ({
    code: output.code,
    stdout: normalise(output.stdout, targets[i].names),
    stderr: normalise(output.stderr, targets[i].names),
  }));
  assert.deepEqual(outputs[SIGIL], outputs[ETCD], `etcdctl ${args.join(' ')}`);
  return { ...outputs[SIGIL], raw };
}

/** Runs `scenario` on etcd, then on Sigil, and asserts their normalised transcripts are equal. */
async function sameTranscript(scenario: (target: Target) => Promise<string>): Promise<string> {
  const transcripts: string[] = [];
  for (const target of targets) {
    transcripts.push(normalise(await scenario(target), target.names));
  }
  assert.equal(transcripts[SIGIL], transcripts[ETCD]);
  return transcripts[SIGIL];
}

describe('etcdctl against sigild and etcd (three members each)', { timeout: 120_000 }, () => {
  it('put, get, del and txn -i print the same', async () =>
    withClusterLogs(sigil, async () => {
      await both(['put', 'foo', 'bar']);
      await both(['put', 'foo', 'baz', '--prev-kv']);
      await both(['put', 'foo2', 'x']);
      await both(['get', 'foo', '-w', 'json']);
      await both(['get', '--prefix', 'foo', '--order=DESCEND', '--sort-by=VALUE']);
      await both(['get', 'foo', '--rev=2', '--print-value-only']);
      await both(['get', '', '--from-key', '--keys-only', '--limit=1']);
      const yes = await both(
        ['txn', '-i'],
        'value("foo") = "baz"\nmod("foo2") > "0"\n\nput foo qux\nget foo2\ndel nothing\n\nput nope nope\n\n',
      );
      assert.match(yes.stdout, /^SUCCESS$/m);
      const no = await both(
        ['txn', '-i', '-w', 'json'],
        'version("foo") = "7"\n\nput never x\n\nget foo --prefix\n\n',
      );
      assert.doesNotMatch(no.stdout, /"succeeded":true/);
      assert.match(no.stdout, /"kvs":\[\{"key":"Zm9v"/);
      await both(['get', 'never']);
      await both(['del', 'foo', '--prev-kv']);
      await both(['get', '', '--prefix', '-w', 'json']);
      await both(['compaction', '3']);
      await both(['get', 'foo', '--rev=2']);
    }));

  it('watch --rev --prefix --prev-kv replays history and streams live events', async () =>
    withClusterLogs(sigil, async () => {
      const transcript = await sameTranscript(async ({ names }) => {
        await etcdctl(names.endpoints, ['put', 'w/a', '1']);
        const start = JSON.parse(
          (await etcdctl(names.endpoints, ['get', 'w/a', '-w', 'json'])).stdout,
        ).header.revision as number;
        await etcdctl(names.endpoints, ['put', 'w/a', '2']);
        await etcdctl(names.endpoints, ['put', 'other', 'x']);
        const watch = new EtcdctlProcess(names.endpoints, [
          'watch',
          '--prefix',
          'w/',
          `--rev=${start}`,
          '--prev-kv',
        ]);
        try {
          // The history (two puts of w/a) shows the watch is established.
          await watch.waitForOutput((out) => out.split('PUT\n').length - 1 >= 2);
          await etcdctl(names.endpoints, ['put', 'w/b', '3']);
          await etcdctl(names.endpoints, ['del', 'w/a']);
          await watch.waitForOutput('DELETE\n');
          await watch.waitForOutput((out) => out.endsWith('w/a\n\n'));
        } finally {
          await watch.stop();
        }
        return watch.stdout;
      });
      assert.equal(
        transcript,
        'PUT\nw/a\n1\nPUT\nw/a\n1\nw/a\n2\nPUT\nw/b\n3\nDELETE\nw/a\n2\nw/a\n\n',
      );
    }));

  it('lock: the second contender waits until the first releases', async () =>
    withClusterLogs(sigil, async () => {
      const transcript = await sameTranscript(async ({ label, names }) => {
        const lines: string[] = [];
        // The holder's command marks the critical section with a file for a moment; the lock
        // is released when the command exits. The second holder reports any overlap.
        const marker = join(tmpdir(), `sigil-lock-${process.pid}-${label}`);
        const first = new EtcdctlProcess(names.endpoints, [
          'lock',
          'mutex1',
          '--',
          'sh',
          '-c',
          `touch ${marker}; echo first-start; sleep 1; echo first-end; rm ${marker}`,
        ]);
        let second: EtcdctlProcess | undefined;
        try {
          await first.waitForOutput('first-start');
          second = new EtcdctlProcess(names.endpoints, [
            'lock',
            'mutex1',
            '--',
            'sh',
            '-c',
            `if [ -e ${marker} ]; then echo overlap; else echo second-start; fi`,
          ]);
          const codes = await Promise.all([first.exited, second.exited]);
          assert.deepEqual(codes, [0, 0], first.stderr + second.stderr);
          lines.push(first.stdout, second.stdout);
        } finally {
          await Promise.all([first.stop(), second?.stop()]);
          await rm(marker, { force: true });
        }
        // Without a command, etcdctl prints the lock key and holds it until interrupted.
        const holder = new EtcdctlProcess(names.endpoints, ['lock', 'mutex2']);
        let held: CtlOutput | undefined;
        try {
          await holder.waitForOutput('mutex2/');
          held = await etcdctl(names.endpoints, ['get', '--prefix', 'mutex2/', '--keys-only']);
        } finally {
          assert.equal(await holder.stop(), 0, holder.stderr);
        }
        lines.push(holder.stdout, held.stdout);
        // Released on interrupt: no lock key is left.
        const left = await etcdctl(names.endpoints, ['get', '--prefix', 'mutex', '--keys-only']);
        lines.push(left.stdout);
        return lines.join('---\n');
      });
      assert.equal(
        transcript.replace(/mutex2\/<id>/g, 'mutex2/<lease>'),
        'first-start\nfirst-end\n---\nsecond-start\n---\nmutex2/<lease>\n\n---\nmutex2/<lease>\n\n---\n',
      );
    }));

  it('elect: campaigners take turns and the observer follows (-l)', async () =>
    withClusterLogs(sigil, async () => {
      const transcript = await sameTranscript(async ({ names }) => {
        const observer = new EtcdctlProcess(names.endpoints, ['elect', '-l', 'leader-e']);
        const one = new EtcdctlProcess(names.endpoints, ['elect', 'leader-e', 'p1']);
        let two: EtcdctlProcess | undefined;
        try {
          await one.waitForOutput('p1\n');
          await observer.waitForOutput('p1\n');
          two = new EtcdctlProcess(names.endpoints, ['elect', 'leader-e', 'p2']);
          // The second campaigner must not win while the first leads: resign the first and
          // the second wins.
          const oneExit = await one.stop();
          await two.waitForOutput('p2\n');
          await observer.waitForOutput('p2\n');
          assert.equal(oneExit, 0);
        } finally {
          await Promise.all([one.stop(), two?.stop(), observer.stop()]);
        }
        return [one.stdout, two.stdout, observer.stdout].join('---\n');
      });
      assert.match(
        transcript,
        /^leader-e\/<id>\np1\n---\nleader-e\/<id>\np2\n---\nleader-e\/<id>\np1\nleader-e\/<id>\np2\n$/,
      );
    }));

  it('lease grant, keep-alive --once, timetolive --keys and revoke', async () =>
    withClusterLogs(sigil, async () => {
      // etcd raises a TTL below its minimum (1.5 × election timeout, rounded up) to 2 s.
      const shortLived = await both(['lease', 'grant', '1']);
      await both(['lease', 'timetolive', '7b']);
      await both(['lease', 'revoke', '7b']);
      await both(['put', 'k', 'v', '--lease=7b']);
      // The 2 s lease is revoked now: left to expire, whether `lease list` below still counts
      // it would depend on how long each cluster's transcript took to get there.
      await Promise.all(
        targets.map((target, i) => {
          const id = /lease ([0-9a-f]+) granted/.exec(shortLived.raw[i].stdout)?.[1];
          assert.ok(id !== undefined, shortLived.raw[i].stdout);
          return etcdctl(target.names.endpoints, ['lease', 'revoke', id]);
        }),
      );
      // Through the leader: the remaining TTL is compared with etcd's, which needs both to
      // count from a grant made moments before (followers are covered below).
      const transcript = await sameTranscript(async (target) => {
        const names = { ...target.names, endpoints: [await target.leader()] };
        const granted = await etcdctl(names.endpoints, ['lease', 'grant', '60']);
        const id = /lease ([0-9a-f]+) granted/.exec(granted.stdout)?.[1];
        assert.ok(id !== undefined, granted.stdout + granted.stderr);
        const steps = [
          await etcdctl(names.endpoints, ['put', 'leased', 'v', `--lease=${id}`]),
          await etcdctl(names.endpoints, ['lease', 'keep-alive', '--once', id]),
          await etcdctl(names.endpoints, ['lease', 'timetolive', id, '--keys']),
          await etcdctl(names.endpoints, ['lease', 'list']),
          await etcdctl(names.endpoints, ['lease', 'revoke', id]),
          await etcdctl(names.endpoints, ['get', 'leased']),
        ];
        // Seconds left after the keep-alive: below 60 (etcd truncates), by how much depends on load.
        return steps
          .map((step) => `${step.code} ${step.stdout}`)
          .join('')
          .replace(/remaining\((\d+)s\)/, (_, left: string) =>
            Number(left) < 60 && Number(left) >= 50 ? 'remaining(<60s)' : `remaining(${left}s)`,
          );
      });
      assert.match(transcript, /attached keys\(\[leased\]\)/);
      assert.match(transcript, /lease <id> revoked\n0 $/);
    }));

  it('member list and endpoint status/health match etcd', async () =>
    withClusterLogs(sigil, async () => {
      const sortLines = (text: string): string => text.split('\n').sort().join('\n');
      for (const format of ['simple', 'table', 'json']) {
        const outputs = await Promise.all(
          targets.map(async (target) => {
            const output = await etcdctl(target.names.endpoints, ['member', 'list', '-w', format]);
            assert.equal(output.code, 0, output.stderr);
            // Column widths follow the member names' lengths (etcd0 vs sigil0).
            const text = normalise(output.stdout, target.names).replace(/-+/g, '-');
            if (format !== 'json') return sortLines(text.replace(/ +/g, ' '));
            const list = JSON.parse(output.stdout) as { members: { name: string }[] };
            list.members.sort((a, b) => a.name.localeCompare(b.name));
            return normalise(JSON.stringify(list), target.names);
          }),
        );
        assert.equal(outputs[SIGIL], outputs[ETCD], `member list -w ${format}`);
      }
      // endpoint health asks the members concurrently and prints (to stderr) as they answer.
      for (let i = 0; i < 3; i++) {
        const outputs = await Promise.all(
          targets.map(async ({ names }) => {
            const out = await etcdctl([names.endpoints[i]], ['endpoint', 'health']);
            return normalise(`${out.code} ${out.stdout}${out.stderr}`, names);
          }),
        );
        assert.equal(outputs[SIGIL], outputs[ETCD]);
        assert.equal(
          outputs[SIGIL],
          `0 <client${i}> is healthy: successfully committed proposal: took = <duration>`,
        );
      }
      const status = await both(['endpoint', 'status', '-w', 'json']);
      assert.equal(status.stdout.match(/"Endpoint"/g)?.length, 3);
      // The simple format: one line per endpoint, exactly one leader.
      const simple = await etcdctl(sigil.endpoints, ['endpoint', 'status']);
      const rows = simple.stdout.split('\n').filter((row) => row !== '');
      assert.equal(rows.length, 3, simple.stdout + simple.stderr);
      rows.forEach((row, i) =>
        assert.match(
          row,
          new RegExp(
            `^${sigil.endpoints[i]}, [0-9a-f]+, 3\\.\\d+\\.\\d+, \\d+ kB, (true|false), false, \\d+, \\d+, \\d+, $`,
          ),
        ),
      );
      assert.equal(rows.filter((row) => row.includes(', true, false,')).length, 1);
    }));

  it('endpoint status -w json reports a consistent cluster', async () =>
    withClusterLogs(sigil, async () => {
      interface StatusEntry {
        Endpoint: string;
        Status: {
          header: { cluster_id: number; member_id: number; revision: number; raft_term: number };
          version: string;
          dbSize: number;
          leader: number;
          raftIndex: number;
          raftTerm: number;
          raftAppliedIndex: number;
        };
      }
      // etcdctl prints 64-bit ids as JSON numbers; read them as strings to keep every digit.
      const parse = (stdout: string): StatusEntry[] =>
        JSON.parse(stdout.replace(/"(cluster_id|member_id|leader)":(\d+)/g, '"$1":"$2"'));
      const out = await etcdctl(sigil.endpoints, ['endpoint', 'status', '-w', 'json']);
      assert.equal(out.code, 0, out.stderr);
      const entries = parse(out.stdout);
      assert.deepEqual(
        entries.map((e) => e.Endpoint),
        sigil.endpoints,
      );
      const members = JSON.parse(
        (await etcdctl(sigil.endpoints, ['member', 'list', '-w', 'json'])).stdout.replace(
          /"(ID|cluster_id|member_id)":(\d+)/g,
          '"$1":"$2"',
        ),
      ) as { header: { cluster_id: string }; members: { ID: string; clientURLs: string[] }[] };
      const revision = Number(
        JSON.parse((await etcdctl(sigil.endpoints, ['get', 'x', '-w', 'json'])).stdout).header
          .revision,
      );
      for (const [i, { Status: status }] of entries.entries()) {
        const self = members.members.find((m) => m.ID === String(status.header.member_id));
        assert.deepEqual(self?.clientURLs, [sigil.clientUrls[i]], 'member_id is the member');
        assert.equal(String(status.header.cluster_id), members.header.cluster_id);
        assert.equal(String(status.leader), String(entries[0].Status.leader));
        assert.ok(members.members.some((m) => m.ID === String(status.leader)));
        assert.equal(status.raftTerm, entries[0].Status.raftTerm);
        assert.equal(status.header.raft_term, status.raftTerm);
        assert.ok(status.header.revision > 1 && status.header.revision <= revision);
        assert.ok(status.raftIndex > 0);
        assert.ok(status.raftAppliedIndex > 0 && status.raftAppliedIndex <= status.raftIndex + 1);
        assert.ok(status.dbSize > 0);
        assert.match(status.version, /^3\.[4-9]\.\d+$/);
      }
    }));

  it('lease timetolive through a follower reports the remaining TTL', async () =>
    withClusterLogs(sigil, async () => {
      const leader = await sigil.waitForLeader();
      const follower = sigil.endpoints[(leader + 1) % 3];
      const granted = await etcdctl([follower], ['lease', 'grant', '60']);
      const id = /lease ([0-9a-f]+) granted/.exec(granted.stdout)?.[1];
      assert.ok(id !== undefined, granted.stdout + granted.stderr);
      await etcdctl([follower], ['put', 'follower-ttl', 'v', `--lease=${id}`]);
      // Only the leader counts down: a follower answering from its own lessor says 60 forever.
      const ttl = await waitFor(
        'the lease to age as the follower sees it',
        async () => {
          const out = await etcdctl([follower], ['lease', 'timetolive', id, '--keys']);
          return /remaining\((5\d)s\)/.test(out.stdout) ? out.stdout : undefined;
        },
        5_000,
        500,
      );
      assert.match(
        ttl,
        /granted with TTL\(60s\), remaining\(5\ds\), attached keys\(\[follower-ttl\]\)/,
      );
      await etcdctl([follower], ['lease', 'revoke', id]);
    }));

  it('endpoint status --cluster and endpoint health --cluster (http:// client URLs) match etcd', async () =>
    withClusterLogs(sigil, async () => {
      // etcdctl 3.4 sends the discovered client URLs, scheme included, as the HTTP/2 authority.
      const statuses = await Promise.all(
        targets.map(async ({ names }) => {
          const out = await etcdctl(names.endpoints, [
            'endpoint',
            'status',
            '--cluster',
            '-w',
            'json',
          ]);
          assert.equal(out.code, 0, out.stderr);
          const entries = JSON.parse(
            out.stdout.replace(/"(cluster_id|member_id|leader)":(\d+)/g, '"$1":"$2"'),
          ) as {
            Endpoint: string;
            Status: { header: { member_id: string }; leader: string };
          }[];
          return entries;
        }),
      );
      const sigilEntries = statuses[SIGIL];
      assert.deepEqual(
        sigilEntries.map((entry) => entry.Endpoint).sort(),
        [...sigil.clientUrls].sort(),
      );
      assert.equal(new Set(sigilEntries.map((entry) => entry.Status.leader)).size, 1, 'one leader');
      assert.equal(
        sigilEntries.filter((entry) => entry.Status.header.member_id === entry.Status.leader)
          .length,
        1,
      );
      assert.equal(statuses[ETCD].length, 3);
      const healths = await Promise.all(
        targets.map(async ({ names }) => {
          const out = await etcdctl(
            [names.endpoints[0]],
            ['endpoint', 'health', '--cluster', '-w', 'json'],
          );
          assert.equal(out.code, 0, out.stderr);
          const entries = JSON.parse(out.stdout) as {
            endpoint: string;
            health: boolean;
            took: string;
          }[];
          return entries
            .map((entry) => `${normalise(entry.endpoint, names)} ${entry.health}`)
            .sort()
            .join('\n');
        }),
      );
      assert.equal(healths[SIGIL], healths[ETCD]);
      assert.equal(
        healths[SIGIL],
        ['http://<client0> true', 'http://<client1> true', 'http://<client2> true'].join('\n'),
      );
    }));
});
