/**
 * sigilctl against etcdctl 3.4, side by side on the same etcd: the same command must print the
 * same text (and exit with the same code), so scripts written for etcdctl work with sigilctl.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type EtcdCluster, startEtcd } from '../support/etcd-process.ts';
import {
  type CliResult,
  lastErrorLine,
  runEtcdctl,
  runSigilctlInProcess,
} from '../support/cli-runners.ts';

let etcd: EtcdCluster;
let endpointFlag: string;
const TIMEOUT = { timeout: 20_000 };

before(async () => {
  etcd = await startEtcd();
  endpointFlag = `--endpoints=${etcd.endpoints[0]}`;
});

after(async () => {
  await etcd?.stop();
});

const etcdctl = (...args: string[]): Promise<CliResult> => runEtcdctl([endpointFlag, ...args]);
const sigilctl = (...args: string[]): Promise<CliResult> =>
  runSigilctlInProcess([endpointFlag, ...args]);

/** Runs both tools (etcdctl first) and asserts identical stdout and exit code. */
async function sameOutput(...args: string[]): Promise<CliResult> {
  const expected = await etcdctl(...args);
  const actual = await sigilctl(...args);
  assert.equal(actual.stdout, expected.stdout, `stdout of: ${args.join(' ')}`);
  assert.equal(actual.code, expected.code, `exit code of: ${args.join(' ')}\n${actual.stderr}`);
  return actual;
}

test('put prints OK, and the previous pair with --prev-kv', TIMEOUT, async () => {
  assert.equal((await sameOutput('put', 'cli/put', 'v1')).stdout, 'OK\n');
  // Both overwrite with the same value, so both see the same previous pair.
  const withPrevious = await sameOutput('put', 'cli/put', 'v1', '--prev-kv');
  assert.equal(withPrevious.stdout, 'OK\ncli/put\nv1\n');
});

test('get variants print what etcdctl prints', TIMEOUT, async () => {
  for (const [key, value] of [
    ['get/b', 'beta'],
    ['get/a', 'alpha'],
    ['get/c', 'gamma'],
    ['get/d', ''],
    ['geu', 'after prefix'],
  ]) {
    assert.equal((await etcdctl('put', key, value)).code, 0);
  }
  const { stdout } = await etcdctl('put', 'get/a', 'alpha2', '-w', 'json');
  const revision = (JSON.parse(stdout) as { header: { revision: number } }).header.revision;
  const variants: string[][] = [
    ['get', 'get/a'],
    ['get', 'get/missing'],
    ['get', 'get/', '--prefix'],
    ['get', 'get/', '--prefix', '--keys-only'],
    ['get', 'get/', '--prefix', '--print-value-only'],
    ['get', 'get/', '--prefix', '--limit=2'],
    ['get', 'get/a', `--rev=${revision - 1}`],
    ['get', 'get/', '--prefix', '--sort-by=VALUE', '--order=DESCEND'],
    ['get', 'get/', '--prefix', '--order=DESCEND'],
    ['get', 'get/c', '--from-key'],
    ['get', 'get/b', 'get/d'],
    ['get', 'get/', '--prefix', '--consistency=s'],
    ['get', 'get/', '--prefix', '-w', 'json'],
    ['get', 'get/a', '-w', 'json'],
    ['get', 'get/missing', '-w', 'json'],
  ];
  for (const args of variants) await sameOutput(...args);
});

test('get --count-only prints the count (etcdctl 3.5 behaviour)', TIMEOUT, async () => {
  await etcdctl('put', 'count/a', '1');
  await etcdctl('put', 'count/b', '2');
  assert.equal((await sigilctl('get', 'count/', '--prefix', '--count-only')).stdout, '2\n');
});

test('del prints the count and, with --prev-kv, the deleted pairs', TIMEOUT, async () => {
  const seed = async (): Promise<void> => {
    await etcdctl('put', 'del/a', '1');
    await etcdctl('put', 'del/b', '2');
  };
  await seed();
  const expected = await etcdctl('del', 'del/', '--prefix', '--prev-kv');
  await seed();
  const actual = await sigilctl('del', 'del/', '--prefix', '--prev-kv');
  assert.equal(actual.stdout, expected.stdout);
  assert.equal(actual.stdout, '2\ndel/a\n1\ndel/b\n2\n');
  await sameOutput('del', 'del/nothing');
  await seed();
  const rangeExpected = await etcdctl('del', 'del/a', 'del/b');
  await seed();
  assert.equal((await sigilctl('del', 'del/a', 'del/b')).stdout, rangeExpected.stdout);
  assert.equal((await sigilctl('get', 'del/', '--prefix', '--keys-only')).stdout, 'del/b\n\n');
});

test('errors print etcd message and exit 1 like etcdctl', TIMEOUT, async () => {
  for (const args of [
    ['put', 'k', 'v', '--lease=1234abcd'],
    ['put', '', 'v'],
    ['get', 'k', '--rev=99999999'],
  ]) {
    const expected = await etcdctl(...args);
    const actual = await sigilctl(...args);
    assert.equal(lastErrorLine(actual), lastErrorLine(expected), args.join(' '));
    assert.match(lastErrorLine(actual), /^Error: etcdserver: /);
    assert.equal(actual.code, expected.code);
  }
  const badConsistency = await sigilctl('get', 'k', '--consistency=x');
  const expected = await etcdctl('get', 'k', '--consistency=x');
  assert.equal(lastErrorLine(badConsistency), lastErrorLine(expected));
  assert.equal(badConsistency.code, expected.code);
});

test('member list matches in simple, table and json formats', TIMEOUT, async () => {
  const simple = await sameOutput('member', 'list');
  assert.equal(simple.stdout.trim().split(', ').length, 6);
  await sameOutput('member', 'list', '-w', 'table');
  await sameOutput('member', 'list', '-w', 'json');
});

test('endpoint status has etcdctl shape and values', TIMEOUT, async () => {
  // Raft indexes and sizes may move between the two calls; every other column must match.
  const volatile = new Set([3, 7, 8]);
  const columns = (text: string): string[] =>
    text
      .trim()
      .split(', ')
      .map((column, i) => (volatile.has(i) ? '*' : column));
  const expected = await etcdctl('endpoint', 'status');
  const actual = await sigilctl('endpoint', 'status');
  assert.equal(actual.code, 0);
  assert.equal(actual.stdout.split(', ').length, 10);
  assert.deepEqual(columns(actual.stdout), columns(expected.stdout));
  const tableExpected = (await etcdctl('endpoint', 'status', '-w', 'table')).stdout.split('\n');
  const tableActual = (await sigilctl('endpoint', 'status', '-w', 'table')).stdout.split('\n');
  assert.equal(tableActual.length, tableExpected.length);
  assert.deepEqual(tableActual.slice(0, 3), tableExpected.slice(0, 3));
  const json = JSON.parse((await sigilctl('endpoint', 'status', '-w', 'json')).stdout) as {
    Endpoint: string;
    Status: { version: string };
  }[];
  assert.equal(json[0].Endpoint, etcd.endpoints[0]);
  assert.match(json[0].Status.version, /^3\./);
});

test('watch prints events like etcdctl', TIMEOUT, async () => {
  const { stdout } = await etcdctl('put', 'watch/seed', 'x', '-w', 'json');
  const start = (JSON.parse(stdout) as { header: { revision: number } }).header.revision + 1;
  await etcdctl('put', 'watch/a', '1');
  await etcdctl('put', 'watch/b', '2');
  await etcdctl('put', 'watch/a', '3');
  await etcdctl('del', 'watch/b');
  // Both start at a fixed past revision, so both replay the same four events.
  const args = ['watch', 'watch/', '--prefix', `--rev=${start}`, '--prev-kv'];
  const expected = await runEtcdctl([endpointFlag, ...args], 1_500);
  let interrupt = (): void => undefined;
  const interrupted = new Promise<void>((resolve) => {
    interrupt = resolve;
  });
  const running = runSigilctlInProcess([endpointFlag, ...args], interrupted);
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  interrupt();
  const actual = await running;
  assert.equal(actual.code, 0, actual.stderr);
  assert.equal(actual.stdout, expected.stdout);
  assert.equal(
    actual.stdout,
    'PUT\nwatch/a\n1\nPUT\nwatch/b\n2\nPUT\nwatch/a\n1\nwatch/a\n3\nDELETE\nwatch/b\n2\nwatch/b\n\n',
  );
});
