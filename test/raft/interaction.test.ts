/** Runs every script in testdata/ through a fresh interaction environment. */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runScript } from './datadriven.ts';
import { InteractionEnv } from './interaction-env.ts';

const directory = join(import.meta.dirname, 'testdata');

for (const file of readdirSync(directory)
  .filter((name) => name.endsWith('.txt'))
  .sort()) {
  test(`interaction ${file}`, () => {
    const env = new InteractionEnv();
    runScript(join(directory, file), (command) => env.run(command));
  });
}
