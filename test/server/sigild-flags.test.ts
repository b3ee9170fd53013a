import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseGoDurationMs, parseSigildArgs, USAGE_EXIT_CODE } from '../../src/cli/sigild-flags.ts';

const run = (argv: string[], env: Record<string, string> = {}) => {
  const outcome = parseSigildArgs(argv, env);
  if (outcome.kind !== 'run')
    assert.fail(`expected to run, got exit ${outcome.code}: ${outcome.stderr}`);
  return outcome;
};

describe('sigild flags', () => {
  it("uses etcd's defaults", () => {
    const { options, warnings } = run([]);
    assert.equal(options.name, 'default');
    assert.equal(options.dataDir, 'default.sigil');
    assert.deepEqual(options.listenClientUrls, ['http://127.0.0.1:2379']);
    assert.deepEqual(options.listenPeerUrls, ['http://127.0.0.1:2380']);
    assert.deepEqual(options.initialCluster, [
      { name: 'default', peerUrls: ['http://127.0.0.1:2380'] },
    ]);
    assert.equal(options.initialClusterState, 'new');
    assert.equal(options.initialClusterToken, 'etcd-cluster');
    assert.equal(options.heartbeatMs, 100);
    assert.equal(options.electionMs, 1000);
    assert.equal(options.snapshotCount, 100_000);
    assert.equal(options.quotaBackendBytes, 2 * 1024 ** 3);
    assert.equal(options.maxRequestBytes, 1_572_864);
    assert.equal(options.maxTxnOps, 128);
    assert.equal(options.autoCompaction, null);
    assert.deepEqual(warnings, []);
  });

  it('reads ETCD_* and SIGIL_* variables; flags win over both, SIGIL over ETCD', () => {
    const { options } = run(['--name', 'n1', '--initial-cluster', 'n1=http://127.0.0.1:2380'], {
      ETCD_NAME: 'from-env',
      ETCD_SNAPSHOT_COUNT: '10',
      SIGIL_SNAPSHOT_COUNT: '20',
      ETCD_DATA_DIR: '/var/lib/x',
      ETCD_AUTO_COMPACTION_RETENTION: '1',
    });
    assert.equal(options.name, 'n1');
    assert.equal(options.snapshotCount, 20);
    assert.equal(options.dataDir, '/var/lib/x');
    assert.deepEqual(options.autoCompaction, { mode: 'periodic', retentionMs: 3_600_000 });
  });

  it('rejects an unknown flag with exit code 2', () => {
    const outcome = parseSigildArgs(['--no-such-flag', 'x'], {});
    assert.equal(outcome.kind, 'exit');
    assert.equal(outcome.kind === 'exit' && outcome.code, USAGE_EXIT_CODE);
    assert.match(outcome.kind === 'exit' ? outcome.stderr : '', /unknown option '--no-such-flag'/);
  });

  it('accepts etcd flags it does not implement, with one warning naming them', () => {
    const { warnings } = run(['--cert-file=/x.pem', '--pre-vote', '--auto-tls=false'], {
      ETCD_ENABLE_PPROF: 'true',
    });
    assert.equal(warnings.length, 1);
    for (const flag of ['--cert-file', '--pre-vote', '--auto-tls', '--enable-pprof']) {
      assert.ok(warnings[0].includes(flag), `${flag} named in: ${warnings[0]}`);
    }
  });

  it('warns about unrecognized ETCD_ variables', () => {
    const { warnings } = run([], { ETCD_BOGUS: '1', ETCDCTL_API: '3' });
    assert.deepEqual(warnings, ['unrecognized environment variable ETCD_BOGUS']);
  });

  it('rejects malformed values clearly', () => {
    const cases: [string[], RegExp][] = [
      [['--heartbeat-interval', 'fast'], /invalid value "fast" for --heartbeat-interval/],
      [['--election-timeout', '200'], /at least 5 times --heartbeat-interval/],
      [['--listen-peer-urls', 'not a url'], /invalid URL/],
      [['--listen-client-urls', 'https://127.0.0.1:2379'], /TLS/],
      [['--initial-cluster-state', 'maybe'], /"new" or "existing"/],
      [['--initial-cluster', 'other=http://127.0.0.1:2380'], /no member named "default"/],
      [['--auto-compaction-mode', 'weekly'], /periodic.*revision/],
      [['--auto-compaction-retention', '1fortnight'], /auto-compaction-retention/],
      [['--log-level', 'loud'], /--log-level/],
    ];
    for (const [argv, message] of cases) {
      const outcome = parseSigildArgs(argv, {});
      assert.equal(outcome.kind, 'exit', argv.join(' '));
      if (outcome.kind === 'exit') {
        assert.equal(outcome.code, USAGE_EXIT_CODE);
        assert.match(outcome.stderr, message);
      }
    }
  });

  it('parses a multi-member cluster and revision-mode compaction', () => {
    const { options } = run([
      '--name=b',
      '--initial-advertise-peer-urls=http://10.0.0.2:2380',
      '--listen-peer-urls=http://0.0.0.0:2380',
      '--initial-cluster=a=http://10.0.0.1:2380,b=http://10.0.0.2:2380,c=http://10.0.0.3:2380',
      '--auto-compaction-mode=revision',
      '--auto-compaction-retention=1000',
    ]);
    assert.deepEqual(
      options.initialCluster.map((member) => member.name),
      ['a', 'b', 'c'],
    );
    assert.deepEqual(options.autoCompaction, { mode: 'revision', retentionRevisions: 1000 });
  });

  it('parses Go durations', () => {
    assert.equal(parseGoDurationMs('30m'), 1_800_000);
    assert.equal(parseGoDurationMs('1h30m'), 5_400_000);
    assert.equal(parseGoDurationMs('1.5s'), 1500);
    assert.equal(parseGoDurationMs('5x'), null);
  });
});
