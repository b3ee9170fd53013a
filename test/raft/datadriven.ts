/**
 * A minimal datadriven runner in the spirit of cockroachdb/datadriven: a script of commands,
 * each followed by `----` and its expected output, ended by a blank line. With REWRITE=1 the
 * expectations are regenerated in place and the diff is reviewed like code.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';

export interface DataDrivenCase {
  readonly comments: readonly string[];
  readonly command: string;
  readonly expected: string;
  /** 1-based line of the command, for failure messages. */
  readonly line: number;
}

export function parseScript(text: string): DataDrivenCase[] {
  const lines = text.split('\n');
  const cases: DataDrivenCase[] = [];
  let comments: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === '') {
      i++;
      continue;
    }
    if (line.startsWith('#')) {
      comments.push(line);
      i++;
      continue;
    }
    const commandLine = i + 1;
    assert.equal(lines[i + 1], '----', `line ${commandLine + 1}: expected ---- after command`);
    const output: string[] = [];
    i += 2;
    while (i < lines.length && lines[i] !== '') output.push(lines[i++]);
    cases.push({ comments, command: line, expected: output.join('\n'), line: commandLine });
    comments = [];
  }
  return cases;
}

export function renderScript(
  cases: readonly { comments: readonly string[]; command: string; output: string }[],
): string {
  return cases
    .map((c) => [...c.comments, c.command, '----', c.output].join('\n'))
    .join('\n\n')
    .concat('\n');
}

/** Runs every case through `run`, comparing (or, with REWRITE=1, rewriting) the outputs. */
export function runScript(path: string, run: (command: string) => string): void {
  const cases = parseScript(readFileSync(path, 'utf8'));
  const rewrite = process.env.REWRITE === '1';
  const results = cases.map((c) => {
    const raw = run(c.command).trimEnd();
    // Blank lines end a case, so the output must not contain any.
    const output = raw === '' ? 'ok' : raw.replace(/\n\s*\n/g, '\n');
    if (!rewrite) {
      assert.equal(output, c.expected, `${path}:${c.line}: ${c.command}`);
    }
    return { comments: c.comments, command: c.command, output };
  });
  if (rewrite) writeFileSync(path, renderScript(results));
}
