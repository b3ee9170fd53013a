/**
 * The state of src/ that a build of dist/ was made from: every file's size and modification
 * time. The launcher compares it with src/ as it is now, so a compiled build is used only when
 * it was made from exactly the sources on disk (any edit, checkout or new file means tsx runs
 * the sources instead). Plain JavaScript: it runs before any TypeScript tooling is loaded.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** `{ "src/a/b.ts": [size, mtimeMs], … }` for every file under `<repo>/src`. */
export function sourceManifest(repo) {
  const manifest = {};
  const walk = (directory) => {
    for (const entry of readdirSync(directory, { withFileTypes: true })) {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) {
        const stats = statSync(path);
        manifest[relative(repo, path)] = [stats.size, stats.mtimeMs];
      }
    }
  };
  walk(join(repo, 'src'));
  return manifest;
}

export function sameManifest(a, b) {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every(
    (key) => b[key] !== undefined && a[key][0] === b[key][0] && a[key][1] === b[key][1],
  );
}

/** Whether `<repo>/dist` was compiled from exactly the sources now in `<repo>/src`. */
export function compiledIsCurrent(repo) {
  try {
    const built = JSON.parse(readFileSync(join(repo, 'dist', 'source-manifest.json'), 'utf8'));
    return sameManifest(built, sourceManifest(repo));
  } catch {
    return false;
  }
}
