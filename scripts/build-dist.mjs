/**
 * Compiles src/ to dist/ (`npm run build:dist`, and `prepare`, which `npm ci` runs): bin/sigild
 * and bin/sigilctl then start from JavaScript instead of loading a TypeScript compiler into the
 * process (tsx's loader thread costs ~25 MB of memory per member and seconds of start-up).
 * The build goes to a temporary folder and replaces dist/ in one rename, with the manifest of
 * the sources it was made from (taken before compiling: an edit during the build is seen).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sourceManifest } from './source-manifest.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const building = join(repo, `dist.building-${process.pid}`);
const manifest = sourceManifest(repo);
rmSync(building, { recursive: true, force: true });
try {
  const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(
    process.execPath,
    [tsc, '-p', join(repo, 'tsconfig.build.json'), '--outDir', building],
    {
      stdio: 'inherit',
    },
  );
  // Files the code reads at run time beside its modules (the .proto definitions).
  cpSync(join(repo, 'src'), join(building, 'src'), {
    recursive: true,
    filter: (source) => !source.endsWith('.ts'),
  });
  mkdirSync(building, { recursive: true });
  writeFileSync(join(building, 'source-manifest.json'), JSON.stringify(manifest));
  rmSync(join(repo, 'dist'), { recursive: true, force: true });
  renameSync(building, join(repo, 'dist'));
} catch (error) {
  rmSync(building, { recursive: true, force: true });
  throw error;
}
