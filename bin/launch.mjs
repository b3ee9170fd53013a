/**
 * Starts one of the command-line programs (`node bin/launch.mjs src/cli/NAME.ts args…`): from
 * dist/ when it was compiled from exactly the sources on disk, else from the sources through
 * tsx. Removes its own argument, so the program sees the argv it would see when run directly.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { compiledIsCurrent } from '../scripts/source-manifest.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const [program] = process.argv.splice(2, 1);

if (compiledIsCurrent(repo)) {
  await import(pathToFileURL(join(repo, 'dist', program.replace(/\.ts$/, '.js'))).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(repo, program)).href);
}
