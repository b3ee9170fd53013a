/**
 * The end of a run, after every fault is healed: wait until all members hold the same revision,
 * compare their HashKV at that revision, read the final state of the workload's keys from each
 * member, and read each member's whole remaining history through a fresh watch on every key, so
 * the watch checker sees every member's history and can hold them against each other.
 */
import { SigilClient } from '../../src/client/index.ts';
import type { WireWatchResponse } from '../../src/client/wire.ts';
import { statusOf } from './chaos-cluster.ts';
import { grpcClient, openWatchStream } from './etcd-rpc.ts';
import { KEY_PREFIX } from './kv-workload.ts';
import type { FinalKey } from './watch-checker.ts';
import { EVERY_KEY, toRecordedResponse, type WatchSession } from './watch-workload.ts';
import { promisedRevision } from './watch-checker.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface Convergence {
  readonly revision: number;
  readonly problems: string[];
  /** Member index → "hash@revision (compact c)". */
  readonly hashes: string[];
  readonly compactRevision: number;
}

/** Waits until every member reports the same revision, then compares HashKV there. */
export async function checkConvergence(
  endpoints: readonly string[],
  timeoutMs: number,
): Promise<Convergence> {
  const deadline = Date.now() + timeoutMs;
  let revisions: (number | null)[] = [];
  for (;;) {
    const statuses = await Promise.all(endpoints.map(statusOf));
    revisions = statuses.map((status) => status?.revision ?? null);
    const first = revisions[0];
    if (first !== null && revisions.every((revision) => revision === first)) break;
    if (Date.now() > deadline) {
      return {
        revision: 0,
        problems: [
          `members did not converge within ${timeoutMs} ms: revisions ${revisions.join(', ')}`,
        ],
        hashes: [],
        compactRevision: 0,
      };
    }
    await sleep(200);
  }
  const revision = revisions[0] as number;
  const problems: string[] = [];
  const hashes: string[] = [];
  let compactRevision = 0;
  const seen = new Set<string>();
  for (const endpoint of endpoints) {
    const client = new SigilClient({ endpoints: [endpoint], commandTimeoutMs: 10_000 });
    try {
      const hash = await client.maintenance.hashKV(revision, { endpoint });
      hashes.push(`${hash.hash}@${hash.hashRevision} (compacted ${hash.compactRevision})`);
      seen.add(`${hash.hash}/${hash.hashRevision}/${hash.compactRevision}`);
      compactRevision = Math.max(compactRevision, hash.compactRevision);
    } catch (error) {
      problems.push(`HashKV on ${endpoint} failed: ${(error as Error).message}`);
    } finally {
      client.close();
    }
  }
  if (seen.size > 1) {
    problems.push(`HashKV differs at revision ${revision}: ${hashes.join(' | ')}`);
    problems.push(await locateDivergence(endpoints, compactRevision, revision));
  }
  return { revision, problems, hashes, compactRevision };
}

async function hashesAt(endpoints: readonly string[], revision: number): Promise<string[]> {
  const client = new SigilClient({ endpoints: [...endpoints], commandTimeoutMs: 10_000 });
  try {
    return await Promise.all(
      endpoints.map(async (endpoint) =>
        String((await client.maintenance.hashKV(revision, { endpoint })).hash),
      ),
    );
  } finally {
    client.close();
  }
}

/**
 * For a report that reproduces: the first revision at which the members' HashKV differ (binary
 * search between the compaction and the end), and what each member holds at that revision.
 */
async function locateDivergence(
  endpoints: readonly string[],
  compactRevision: number,
  lastRevision: number,
): Promise<string> {
  let low = Math.max(1, compactRevision);
  let high = lastRevision;
  try {
    if (new Set(await hashesAt(endpoints, low)).size > 1) {
      return `HashKV already differs at the compaction revision ${low}; ${await firstDifferingKey(endpoints, lastRevision)}`;
    }
    while (high - low > 1) {
      const middle = Math.floor((low + high) / 2);
      if (new Set(await hashesAt(endpoints, middle)).size > 1) high = middle;
      else low = middle;
    }
    const changed = await keysOnEachMember(endpoints, {
      revision: high,
      minModRevision: high,
      maxModRevision: high,
    });
    const views = changed.map((kvs, i) => {
      const texts = kvs.map((kv) => `${kv.key}=${kv.value} v${kv.version} c${kv.createRevision}`);
      return `${endpoints[i]}: [${texts.join(', ')}]`;
    });
    return `members first differ at revision ${high}: ${views.join(' | ')}`;
  } catch (error) {
    return `could not locate the divergence: ${(error as Error).message}`;
  }
}

/** Every key as each member holds it at `revision`, with all its metadata; the first that differs. */
async function firstDifferingKey(endpoints: readonly string[], revision: number): Promise<string> {
  const views = (await keysOnEachMember(endpoints, { revision })).map(
    (kvs) =>
      new Map(
        kvs.map((kv) => [
          kv.key.toString(),
          `${kv.value} create ${kv.createRevision} mod ${kv.modRevision} version ${kv.version}`,
        ]),
      ),
  );
  const keys = [...new Set(views.flatMap((view) => [...view.keys()]))].sort();
  for (const key of keys) {
    const seen = views.map((view) => view.get(key) ?? 'absent');
    if (new Set(seen).size > 1) {
      return `at revision ${revision} ${key} is ${seen.map((text, i) => `[${endpoints[i]}: ${text}]`).join(' ')}`;
    }
  }
  return `every key reads the same at revision ${revision} (the difference is in history kept below it)`;
}

/** Every key each member holds at a revision (serializable reads, one per member). */
async function keysOnEachMember(
  endpoints: readonly string[],
  range: { revision: number; minModRevision?: number; maxModRevision?: number },
) {
  const client = new SigilClient({ endpoints: [...endpoints], commandTimeoutMs: 10_000 });
  try {
    return await Promise.all(
      endpoints.map(
        async (endpoint) =>
          (await client.get('\u0000', { fromKey: true, serializable: true, endpoint, ...range }))
            .kvs,
      ),
    );
  } finally {
    client.close();
  }
}

/** The workload's keys on every member (serializable reads); they must all be equal. */
export async function readFinalState(
  endpoints: readonly string[],
): Promise<{ state: Map<string, FinalKey>; problems: string[] }> {
  const problems: string[] = [];
  const states: Map<string, FinalKey>[] = [];
  for (const endpoint of endpoints) {
    const client = new SigilClient({ endpoints: [endpoint], commandTimeoutMs: 10_000 });
    try {
      const result = await client.get(KEY_PREFIX, { prefix: true, serializable: true, endpoint });
      states.push(
        new Map(
          result.kvs.map((kv) => [
            kv.key.toString(),
            { value: kv.value.toString(), modRevision: kv.modRevision },
          ]),
        ),
      );
    } catch (error) {
      problems.push(`final read on ${endpoint} failed: ${(error as Error).message}`);
    } finally {
      client.close();
    }
  }
  const render = (state: Map<string, FinalKey>): string =>
    JSON.stringify([...state].sort(([a], [b]) => (a < b ? -1 : 1)));
  if (states.length > 1 && new Set(states.map(render)).size > 1) {
    problems.push('members hold different final states of the workload keys');
  }
  return { state: states[0] ?? new Map(), problems };
}

/** A watch on every key of `member` from `fromRevision`, read until it has reached `untilRevision`. */
export async function finalWatchSession(
  endpoint: string,
  member: number,
  fromRevision: number,
  untilRevision: number,
  timeoutMs: number,
): Promise<WatchSession> {
  const session: WatchSession = {
    watcher: -1 - member,
    member,
    range: EVERY_KEY,
    startRevision: fromRevision,
    responses: [],
    end: 'open',
  };
  const client = grpcClient(endpoint);
  const stream = openWatchStream(client);
  stream.on('error', () => undefined);
  stream.on('data', (response: WireWatchResponse) => {
    session.responses.push(toRecordedResponse(response));
  });
  stream.write({
    create_request: {
      key: Buffer.from(EVERY_KEY.key),
      range_end: Buffer.from(EVERY_KEY.rangeEnd),
      start_revision: fromRevision,
      watch_id: 1,
    },
  });
  const deadline = Date.now() + timeoutMs;
  while (promisedRevision(session) < untilRevision && Date.now() < deadline) {
    if (session.responses.some((response) => response.canceled)) break;
    stream.write({ progress_request: {} });
    await sleep(200);
  }
  session.end = 'stopped';
  stream.cancel();
  client.close();
  return session;
}
