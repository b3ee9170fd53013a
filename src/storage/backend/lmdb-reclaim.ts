/**
 * Online space reclaim for LmdbBackend. LMDB never shrinks its file but reuses freed pages, so
 * growth is bounded by the high-water mark; to give space back we copy the environment with
 * compaction (mdb_env_copy2 with MDB_CP_COMPACT, which lmdb-js runs off the main thread inside a
 * read transaction, so neither reads nor writes wait for it). Writes committed during the copy
 * are journaled and replayed into the copy, which becomes the live environment in the same
 * synchronous step (no read or write sees a mixture); then it is renamed over `db`. A crash
 * before the rename leaves the old complete file (a stale copy is deleted at open) and the WAL
 * replays what is missing; after it, the new file, which holds everything including its
 * consistent index. Alternative considered: compacting in place in small batches between other
 * work; LMDB cannot shrink a file in place, so only a copy gives space back.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assert } from '../../base/index.ts';
import type { ReclaimReport } from './backend.ts';
import {
  type Environment,
  type JournalRecord,
  openEnvironment,
  syncDirectory,
} from './lmdb-environment.ts';

/** Records replayed into the copy per transaction. */
const REPLAY_BATCH_RECORDS = 10_000;

/** What the reclaim needs of the backend whose file it copies. */
export interface ReclaimHost {
  /** The live file, `<data-dir>/member/snap/db`. */
  readonly file: string;
  readonly syncMode: 'overlapping' | 'none';
  /** The live environment. */
  environment(): Environment;
  /** Makes `environment` the live one. */
  switchTo(environment: Environment): void;
  /** From now on the backend records every committed write. */
  startJournal(): void;
  /** Stops recording and hands over what was recorded. */
  stopJournal(): JournalRecord[];
  /** Commits the open group transaction; no group is open when it resolves. */
  commitAll(): Promise<void>;
  /** Snapshot streams reading an environment (it must not be closed under them). */
  openSnapshots(): number;
}

export async function reclaimByCopy(host: ReclaimHost): Promise<ReclaimReport> {
  const file = host.file;
  const copyFile = `${file}.reclaim`;
  fs.rmSync(copyFile, { force: true });
  fs.rmSync(`${copyFile}-lock`, { force: true });
  // The copy holds committed data only; what write() returned before must be in it, and what
  // comes after goes to the journal (no await between the last check and starting it).
  await host.commitAll();
  host.startJournal();
  const sizeBeforeBytes = fs.statSync(file).size;
  let copy: Environment;
  try {
    await host.environment().root.backup(copyFile, true);
    copy = openEnvironment(copyFile, host.syncMode);
  } catch (error) {
    host.stopJournal();
    throw error;
  }
  // Writes journaled so far may still sit in the open group: commit it to the old file too,
  // then replay and switch with no await in between, so no write falls between the two.
  await host.commitAll();
  replay(copy, host.stopJournal());
  const old = host.environment();
  host.switchTo(copy);
  // From here writes go to the copy, still named `db.reclaim`; a crash now reopens the old
  // `db`, whose consistent index matches its data, and the WAL replays the rest (sync() waits
  // for the rename, so the member cannot have released those WAL entries).
  // The old environment must be closed before the rename: closing an environment whose file
  // was renamed over blocks the event loop for seconds. Snapshot streams reading it finish
  // first.
  await closeWhenIdle(host, old);
  await copy.root.flushed;
  // Renaming over the old file would free its blocks inside rename(), seconds for a big file on
  // the event loop; move it aside and delete it in the background instead. A crash between the
  // two renames leaves no `db`: opening the backend then puts `db.old` back.
  fs.renameSync(file, `${file}.old`);
  fs.renameSync(copyFile, file);
  fs.renameSync(`${copyFile}-lock`, `${file}-lock`);
  syncDirectory(path.dirname(file));
  await fs.promises.rm(`${file}.old`, { force: true });
  return { sizeBeforeBytes, sizeAfterBytes: fs.statSync(file).size };
}

function replay(copy: Environment, journal: readonly JournalRecord[]): void {
  for (let i = 0; i < journal.length; i += REPLAY_BATCH_RECORDS) {
    copy.root.transactionSync(() => {
      for (const record of journal.slice(i, i + REPLAY_BATCH_RECORDS)) {
        const database = copy.databases.get(record.bucket);
        assert(database !== undefined);
        if (record.value === undefined) database.removeSync(record.key);
        else assert(database.putSync(record.key, record.value));
      }
    });
  }
}

async function closeWhenIdle(host: ReclaimHost, environment: Environment): Promise<void> {
  while (host.openSnapshots() > 0) await new Promise((resolve) => setTimeout(resolve, 50));
  // Closing waits synchronously for a pending flush (seconds for a big file): wait for it
  // asynchronously first so the close itself is quick and the event loop keeps turning.
  await environment.root.flushed;
  await environment.root.close();
}
