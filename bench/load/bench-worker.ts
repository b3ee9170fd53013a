/**
 * Worker-thread entry for `--workers N`: one JavaScript thread saturates at a few thousand gRPC
 * calls per second, so a load generator that must not be the bottleneck spreads its clients over
 * threads. Protocol: the worker prepares (connects) and posts 'ready'; on 'go' it runs and posts
 * its LoadResult, transferring the latency samples.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type LoadShare, prepareLoad } from './load-runner.ts';

if (parentPort === null) throw new Error('bench-worker.ts must run as a worker thread');
const port = parentPort;
const load = await prepareLoad(workerData as LoadShare);
port.once('message', async () => {
  const result = await load.run();
  load.close();
  port.postMessage(result, [result.latenciesMs.buffer as ArrayBuffer]);
});
port.postMessage('ready');
