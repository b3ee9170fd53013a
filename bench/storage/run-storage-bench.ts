/**
 * `npm run bench:storage`: the WAL and MVCC benchmarks, one after the other, on this machine's
 * disk. Run with `node --expose-gc` (the npm script does) so the MVCC memory figures are clean.
 */
import { runMvccBench } from './mvcc-bench.ts';
import { runWalBench } from './wal-bench.ts';

await runWalBench();
await runMvccBench();
