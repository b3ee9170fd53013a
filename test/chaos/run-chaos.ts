/**
 * `npm run chaos -- [options]`: one chaos run against real sigild processes (see chaos-run.ts).
 * Prints the report; the last line is the summary. Exits non-zero on any violation.
 */
import { parseChaosArgs } from './chaos-options.ts';
import { runChaos } from './chaos-run.ts';

async function main(): Promise<number> {
  let options;
  try {
    options = parseChaosArgs(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  const result = await runChaos({ ...options, progress: (line) => console.log(line) });
  return result.passed ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
