/**
 * Entry point of sigilctl (see sigilctl-program.ts for the commands). Wires the process's streams
 * and signals to the program and exits with the command's code.
 */
import { type CliIo, runSigilctl } from './sigilctl-program.ts';

const interrupted = new Promise<void>((resolve) => {
  process.once('SIGINT', () => resolve());
  process.once('SIGTERM', () => resolve());
});

const io: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  interrupted,
};

process.exitCode = await runSigilctl(process.argv.slice(2), io);
// A pending signal listener must not keep the process alive once the command is done.
process.removeAllListeners('SIGINT');
process.removeAllListeners('SIGTERM');
