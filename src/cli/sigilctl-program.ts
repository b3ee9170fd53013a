/**
 * sigilctl's commands: a command-line client for etcd v3 endpoints, flag- and output-compatible
 * with the subset of etcdctl 3.4 it implements (put, get, del, watch, member list, endpoint
 * status). Errors print as `Error: <etcd message>` and exit 1, as etcdctl's do. Output goes
 * through an injected `CliIo` so tests can run commands in-process; sigilctl.ts is the entry point.
 */
import { Command, CommanderError, Option } from 'commander';
import { type GetOptions, SigilClient, type SortOrder, type SortTarget } from '../client/index.ts';
import {
  type EndpointStatus,
  type Lines,
  type OutputFormat,
  printDelete,
  printEndpointStatus,
  printGet,
  printMemberList,
  printPut,
  printWatchEvent,
} from './sigilctl-output.ts';
import { registerMemberCommands } from './sigilctl-member.ts';
import { registerSnapshotCommands } from './sigilctl-snapshot.ts';
import { parseDurationMs } from './sigilctl-text.ts';

/** etcdctl's exit codes (etcdctl/ctlv3/command/error.go). */
const EXIT_ERROR = 1;
const EXIT_BAD_FEATURE = 4;

/** Where a command writes; the entry point passes the process's streams. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Resolves when the user interrupts a long-running command (watch). */
  readonly interrupted: Promise<void>;
}

class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode = EXIT_ERROR,
  ) {
    super(message);
  }
}

interface GlobalOptions {
  endpoints: string;
  dialTimeout: string;
  commandTimeout: string;
  writeOut: OutputFormat;
}

function clientFor(globals: GlobalOptions, endpoints?: string[]): SigilClient {
  return new SigilClient({
    endpoints: endpoints ?? globals.endpoints.split(',').filter((entry) => entry !== ''),
    dialTimeoutMs: parseDurationMs(globals.dialTimeout),
    commandTimeoutMs: parseDurationMs(globals.commandTimeout),
  });
}

/** Runs one command with a client, prints what it collected, and always closes the client. */
async function run(
  io: CliIo,
  command: Command,
  body: (client: SigilClient, out: Lines, format: OutputFormat) => Promise<void>,
): Promise<void> {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const client = clientFor(globals);
  const out: Lines = [];
  try {
    await body(client, out, globals.writeOut);
  } finally {
    client.close();
  }
  if (out.length > 0) io.stdout(`${out.join('\n')}\n`);
}

/** etcdctl takes lease ids in hexadecimal. */
function parseLeaseHex(text: string): bigint {
  if (!/^[0-9a-fA-F]+$/.test(text)) throw new UsageError(`bad lease ID arg (${text})`);
  return BigInt(`0x${text}`);
}

const SORT_TARGETS: Record<string, SortTarget> = {
  CREATE: 'create',
  KEY: 'key',
  MODIFY: 'mod',
  VALUE: 'value',
  VERSION: 'version',
};

interface GetFlags {
  prefix?: boolean;
  fromKey?: boolean;
  limit: string;
  rev: string;
  keysOnly?: boolean;
  countOnly?: boolean;
  printValueOnly?: boolean;
  consistency: string;
  sortBy: string;
  order: string;
}

function getOptions(rangeEnd: string | undefined, flags: GetFlags): GetOptions {
  if (flags.prefix && flags.fromKey) {
    throw new UsageError('`--prefix` and `--from-key` cannot be set at the same time, choose one');
  }
  if (rangeEnd !== undefined && (flags.prefix || flags.fromKey)) {
    throw new UsageError(
      'too many arguments, only accept one argument when `--prefix` or `--from-key` is set',
    );
  }
  if (flags.consistency !== 'l' && flags.consistency !== 's') {
    throw new UsageError(`unknown consistency flag "${flags.consistency}"`, EXIT_BAD_FEATURE);
  }
  const order = flags.order.toUpperCase();
  if (order !== '' && order !== 'ASCEND' && order !== 'DESCEND') {
    throw new UsageError(`bad sort order ${flags.order}`, EXIT_BAD_FEATURE);
  }
  const sortBy = flags.sortBy.toUpperCase();
  if (sortBy !== '' && SORT_TARGETS[sortBy] === undefined) {
    throw new UsageError(`bad sort target ${flags.sortBy}`, EXIT_BAD_FEATURE);
  }
  let sortOrder: SortOrder | undefined =
    order === '' ? undefined : order === 'ASCEND' ? 'ascend' : 'descend';
  // Like etcd's Go client: a sort target without an order means ascending.
  if (sortBy !== '' && sortOrder === undefined) sortOrder = 'ascend';
  return {
    ...(rangeEnd !== undefined ? { rangeEnd } : {}),
    prefix: flags.prefix === true,
    fromKey: flags.fromKey === true,
    limit: Number(flags.limit),
    revision: Number(flags.rev),
    keysOnly: flags.keysOnly === true,
    countOnly: flags.countOnly === true,
    serializable: flags.consistency === 's',
    ...(sortOrder !== undefined ? { sortOrder } : {}),
    ...(sortBy !== '' ? { sortTarget: SORT_TARGETS[sortBy] } : {}),
  };
}

async function watchCommand(
  io: CliIo,
  command: Command,
  key: string,
  rangeEnd: string | undefined,
  flags: { prefix?: boolean; rev: string; prevKv?: boolean },
): Promise<void> {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const client = clientFor(globals);
  const watcher = client.watch(key, {
    ...(rangeEnd !== undefined ? { rangeEnd } : {}),
    prefix: flags.prefix === true,
    startRevision: Number(flags.rev),
    prevKv: flags.prevKv === true,
  });
  // An interrupt ends the watch normally, as Ctrl-C ends etcdctl watch.
  void io.interrupted.then(() => watcher.cancel());
  try {
    for await (const event of watcher) {
      const out: Lines = [];
      printWatchEvent(out, globals.writeOut, event);
      io.stdout(`${out.join('\n')}\n`);
    }
  } finally {
    client.close();
  }
}

async function endpointStatus(
  io: CliIo,
  command: Command,
  flags: { cluster?: boolean },
): Promise<number> {
  const globals = command.optsWithGlobals<GlobalOptions>();
  let endpoints = globals.endpoints.split(',').filter((entry) => entry !== '');
  if (flags.cluster) {
    const seed = clientFor(globals);
    try {
      const list = await seed.cluster.memberList();
      endpoints = list.members.flatMap((member) => member.clientUrls);
    } finally {
      seed.close();
    }
  }
  const client = clientFor(globals, endpoints);
  const statuses: EndpointStatus[] = [];
  try {
    for (const endpoint of endpoints) {
      // etcdctl reports each endpoint it could reach and warns about the others.
      try {
        statuses.push({ endpoint, status: await client.maintenance.status({ endpoint }) });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        io.stderr(`Failed to get the status of endpoint ${endpoint} (${message})\n`);
      }
    }
  } finally {
    client.close();
  }
  const out: Lines = [];
  printEndpointStatus(out, globals.writeOut, statuses);
  io.stdout(`${out.join('\n')}\n`);
  return statuses.length < endpoints.length ? EXIT_ERROR : 0;
}

export function buildProgram(io: CliIo, setExitCode: (code: number) => void): Command {
  const program = new Command('sigilctl')
    .description('A command-line client for etcd v3 endpoints (Sigil KV or etcd)')
    .option('--endpoints <list>', 'gRPC endpoints, comma-separated', '127.0.0.1:2379')
    .option('--dial-timeout <duration>', 'dial timeout for client connections', '2s')
    .option('--command-timeout <duration>', 'timeout for short running commands', '5s')
    .addOption(
      new Option('-w, --write-out <format>', 'output format')
        .choices(['simple', 'json', 'table'])
        .default('simple'),
    );

  program
    .command('put <key> <value>')
    .description('Puts the given key into the store')
    .option('--lease <id>', 'lease ID (in hexadecimal) to attach to the key', '0')
    .option('--prev-kv', 'return the previous key-value pair before modification')
    .option('--ignore-value', 'update the key using its current value')
    .option('--ignore-lease', 'update the key using its current lease')
    .action(async (key: string, value: string, flags, command: Command) => {
      await run(io, command, async (client, out, format) => {
        const result = await client.put(key, value, {
          lease: parseLeaseHex(flags.lease),
          prevKv: flags.prevKv === true,
          ignoreValue: flags.ignoreValue === true,
          ignoreLease: flags.ignoreLease === true,
        });
        printPut(out, format, result);
      });
    });

  program
    .command('get <key> [range_end]')
    .description('Gets the key or a range of keys')
    .option('--prefix', 'get keys with matching prefix')
    .option('--from-key', 'get keys that are greater than or equal to the given key')
    .option('--limit <n>', 'maximum number of results', '0')
    .option('--rev <revision>', 'specify the kv revision', '0')
    .option('--keys-only', 'get only the keys')
    .option('--count-only', 'get only the count')
    .option('--print-value-only', 'only write values when using the "simple" output format')
    .option('--consistency <l|s>', 'linearizable (l) or serializable (s)', 'l')
    .option('--sort-by <target>', 'sort target; CREATE, KEY, MODIFY, VALUE, or VERSION', '')
    .option('--order <order>', 'order of results; ASCEND or DESCEND', '')
    .action(
      async (key: string, rangeEnd: string | undefined, flags: GetFlags, command: Command) => {
        const options = getOptions(rangeEnd, flags);
        await run(io, command, async (client, out, format) => {
          const result = await client.get(key, options);
          printGet(out, format, result, {
            countOnly: flags.countOnly === true,
            printValueOnly: flags.printValueOnly === true,
          });
        });
      },
    );

  program
    .command('del <key> [range_end]')
    .description('Removes the specified key or range of keys [key, range_end)')
    .option('--prefix', 'delete keys with matching prefix')
    .option('--prev-kv', 'return deleted key-value pairs')
    .option('--from-key', 'delete keys that are greater than or equal to the given key')
    .action(async (key: string, rangeEnd: string | undefined, flags, command: Command) => {
      if (flags.prefix && flags.fromKey) {
        throw new UsageError(
          '`--prefix` and `--from-key` cannot be set at the same time, choose one',
        );
      }
      await run(io, command, async (client, out, format) => {
        const result = await client.delete(key, {
          ...(rangeEnd !== undefined ? { rangeEnd } : {}),
          prefix: flags.prefix === true,
          fromKey: flags.fromKey === true,
          prevKv: flags.prevKv === true,
        });
        printDelete(out, format, result);
      });
    });

  program
    .command('watch <key> [range_end]')
    .description('Watches events stream on keys or prefixes')
    .option('--prefix', 'watch on a prefix if prefix is set')
    .option('--rev <revision>', 'revision to start watching', '0')
    .option('--prev-kv', 'get the previous key-value pair before the event happens')
    .action(async (key: string, rangeEnd: string | undefined, flags, command: Command) => {
      await watchCommand(io, command, key, rangeEnd, flags);
    });

  const member = program.command('member').description('Membership related commands');
  member
    .command('list')
    .description('Lists all members in the cluster')
    .action(async (_flags, command: Command) => {
      await run(io, command, async (client, out, format) => {
        printMemberList(out, format, await client.cluster.memberList());
      });
    });

  registerMemberCommands(program, member, (command, body) => run(io, command, body));

  const endpoint = program.command('endpoint').description('Endpoint related commands');
  endpoint
    .command('status')
    .description('Prints out the status of endpoints specified in `--endpoints` flag')
    .option('--cluster', 'use all endpoints from the cluster member list')
    .action(async (flags, command: Command) => {
      setExitCode(await endpointStatus(io, command, flags));
    });

  registerSnapshotCommands(program, io);
  return program;
}

/** Runs one sigilctl command line and returns its exit code. */
export async function runSigilctl(argv: readonly string[], io: CliIo): Promise<number> {
  let exitCode = 0;
  const program = buildProgram(io, (code) => {
    exitCode = code;
  });
  // Commander's own errors (unknown flag, missing argument) become exit codes, not process exits.
  program.exitOverride();
  program.configureOutput({
    writeOut: (text) => io.stdout(text),
    writeErr: (text) => io.stderr(text),
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    const code = error instanceof UsageError ? error.exitCode : EXIT_ERROR;
    io.stderr(`Error: ${error instanceof Error ? error.message : String(error)}\n`);
    return code;
  }
}
