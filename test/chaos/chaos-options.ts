/** What a chaos run does, with the defaults `npm run chaos` uses. */
import { SIGILD_BIN } from '../support/sigild-cluster.ts';
import type { FaultName } from './nemesis.ts';

export type Scenario = 'chaos' | 'restarts';

export interface ChaosRunOptions {
  readonly scenario: Scenario;
  readonly members: number;
  /** chaos: how long faults are injected, in seconds. */
  readonly timeLimitS: number;
  /** restarts: how many kill/restart cycles. */
  readonly cycles: number;
  readonly seed: number;
  /**
   * Enables the membership fault (MemberRemove, wipe, MemberAdd, join). On by default since
   * membership changes work on the tree (checked with 10-minute runs); `--no-membership` leaves it
   * out, e.g. to bisect a failure.
   */
  readonly membership: boolean;
  /** Runs the compactor (on by default; off only to tell a compaction bug from others). */
  readonly compaction: boolean;
  readonly clients: number;
  readonly watchers: number;
  readonly slots: number;
  readonly operationsPerKey: number;
  readonly heartbeatMs: number;
  readonly electionMs: number;
  /** Extra sigild flags for every member. */
  readonly extraArgs: readonly string[];
  /**
   * The sigild to run; by default this tree's bin/sigild. A long run can point at a copy of the
   * tree, so members restarted late in the run execute the same code as the first ones.
   */
  readonly sigild: string;
  /** Keeps the run directory (member logs and data) even when the run passes. */
  readonly keepDirectory: boolean;
  /** Called with progress lines as the run goes. */
  readonly progress: (line: string) => void;
}

export const BASE_FAULTS: readonly FaultName[] = [
  'kill-random',
  'kill-leader',
  'pause-random',
  'pause-leader',
  'isolate-random',
  'isolate-leader',
  'split',
  'one-way',
  'slow-disk',
];

export function defaultChaosOptions(overrides: Partial<ChaosRunOptions> = {}): ChaosRunOptions {
  return {
    scenario: 'chaos',
    members: 3,
    timeLimitS: 60,
    cycles: 50,
    seed: Date.now() % 2 ** 31,
    membership: true,
    compaction: true,
    clients: 6,
    watchers: 4,
    slots: 5,
    operationsPerKey: 80,
    heartbeatMs: 100,
    electionMs: 1000,
    // Small enough that a member down for a few seconds catches up from a snapshot.
    extraArgs: ['--snapshot-count=2000'],
    keepDirectory: false,
    sigild: SIGILD_BIN,
    progress: () => undefined,
    ...overrides,
  };
}

const USAGE = `usage: npm run chaos -- [--scenario chaos|restarts] [--time-limit SECONDS] [--cycles N]
       [--members 3|5] [--seed N] [--no-membership] [--no-compaction] [--clients N] [--watchers N]
       [--sigild PATH] [--keep]`;

export function parseChaosArgs(argv: readonly string[]): ChaosRunOptions {
  const overrides: { -readonly [K in keyof ChaosRunOptions]?: ChaosRunOptions[K] } = {};
  const number = (flag: string, text: string | undefined): number => {
    const value = Number(text);
    if (text === undefined || !Number.isInteger(value) || value < 0) {
      throw new Error(`${flag} needs a non-negative integer\n${USAGE}`);
    }
    return value;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const next = (): string | undefined => argv[++i];
    switch (flag) {
      case '--scenario': {
        const scenario = next();
        if (scenario !== 'chaos' && scenario !== 'restarts') {
          throw new Error(`--scenario must be chaos or restarts\n${USAGE}`);
        }
        overrides.scenario = scenario;
        break;
      }
      case '--time-limit':
        overrides.timeLimitS = number(flag, next());
        break;
      case '--cycles':
        overrides.cycles = number(flag, next());
        break;
      case '--members': {
        const members = number(flag, next());
        if (members !== 3 && members !== 5) throw new Error(`--members must be 3 or 5\n${USAGE}`);
        overrides.members = members;
        break;
      }
      case '--seed':
        overrides.seed = number(flag, next());
        break;
      case '--membership':
        overrides.membership = true;
        break;
      case '--no-membership':
        overrides.membership = false;
        break;
      case '--no-compaction':
        overrides.compaction = false;
        break;
      case '--clients':
        overrides.clients = number(flag, next());
        break;
      case '--watchers':
        overrides.watchers = number(flag, next());
        break;
      case '--sigild': {
        const path = next();
        if (path === undefined) throw new Error(`--sigild needs a path\n${USAGE}`);
        overrides.sigild = path;
        break;
      }
      case '--keep':
        overrides.keepDirectory = true;
        break;
      case '--help':
        throw new Error(USAGE);
      default:
        throw new Error(`unknown argument ${flag}\n${USAGE}`);
    }
  }
  return defaultChaosOptions(overrides);
}
