/**
 * Slow disks for chaos members: builds the LD_PRELOAD shim (fsync-delay.c) once per run with the
 * system C compiler and gives each member a control file holding its current fsync delay. The
 * nemesis writes a delay to make a member's disk slow and 0 to make it fast again; the member
 * reads the file on every sync call, so no signal or restart is needed.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const SOURCE = new URL('./fsync-delay.c', import.meta.url).pathname;

export interface SlowDiskShim {
  readonly libraryPath: string;
  /** Environment variables that make a process slow its syncs by what `controlFile` says. */
  environment(controlFile: string): Record<string, string>;
  setDelay(controlFile: string, delayMs: number): Promise<void>;
}

/** Compiles the shim into `directory`; returns null (with the reason) when no compiler works. */
export async function buildSlowDiskShim(
  directory: string,
): Promise<{ shim: SlowDiskShim } | { shim: null; reason: string }> {
  const libraryPath = join(directory, 'fsync-delay.so');
  try {
    await promisify(execFile)('cc', ['-shared', '-fPIC', '-O2', '-o', libraryPath, SOURCE, '-ldl']);
  } catch (error) {
    return { shim: null, reason: `cannot compile ${SOURCE}: ${(error as Error).message}` };
  }
  return {
    shim: {
      libraryPath,
      environment: (controlFile) => ({
        LD_PRELOAD: libraryPath,
        SIGIL_CHAOS_FSYNC_DELAY_FILE: controlFile,
      }),
      setDelay: (controlFile, delayMs) => writeFile(controlFile, String(Math.round(delayMs))),
    },
  };
}
