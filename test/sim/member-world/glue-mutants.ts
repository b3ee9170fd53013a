/**
 * Deliberately broken glue between consensus and the state machine, patched into the real
 * classes for the length of one run, to show the member world's checkers catch the bugs they
 * exist for. Each mutant names the checker expected to catch it.
 */
import { Lessor } from '../../../src/lease/index.ts';
import { Watcher } from '../../../src/mvcc/index.ts';
import { SigilMember } from '../../../src/server/index.ts';
import { ProposalRegistry } from '../../../src/server/proposal-registry.ts';

export const GLUE_MUTANTS = [
  'serve-linearizable-reads-locally',
  'revoke-lease-keys-one-by-one',
  'watch-drops-a-response',
  'acknowledge-abandoned-proposals',
] as const;
export type GlueMutant = (typeof GLUE_MUTANTS)[number];

/** Patches `mutant` in; returns the function that restores the original code. */
export function applyGlueMutant(mutant: GlueMutant): () => void {
  switch (mutant) {
    case 'serve-linearizable-reads-locally': {
      // A member that skips the ReadIndex round answers from possibly stale local state.
      const original = SigilMember.prototype.range;
      SigilMember.prototype.range = function (request) {
        return original.call(this, { ...request, serializable: true });
      };
      return () => void (SigilMember.prototype.range = original);
    }
    case 'revoke-lease-keys-one-by-one': {
      // Deleting a lease's keys in separate revisions breaks the atomicity of a revoke.
      const original = Lessor.prototype.revoke;
      Lessor.prototype.revoke = function (writer, id) {
        const keys = (
          this as unknown as { leases: Map<bigint, { keys: Map<string, Uint8Array> }> }
        ).leases
          .get(id)
          ?.keys.values();
        for (const key of [...(keys ?? [])].slice(1)) writer.deleteRange({ key });
        original.call(this, writer, id);
      };
      return () => void (Lessor.prototype.revoke = original);
    }
    case 'watch-drops-a-response': {
      // Every seventh response a watcher is given silently disappears.
      const original = Watcher.prototype.push;
      let pushes = 0;
      Watcher.prototype.push = function (response, final) {
        if (response.events.length > 0 && ++pushes % 7 === 0) return;
        original.call(this, response, final);
      };
      return () => void (Watcher.prototype.push = original);
    }
    case 'acknowledge-abandoned-proposals': {
      // A waiter given up on (leader changed, timed out) is told its write succeeded, as if
      // proposing were committing.
      const original = ProposalRegistry.prototype.fail;
      ProposalRegistry.prototype.fail = function (id, code) {
        if (code !== 'leader-changed' && code !== 'timed-out') return original.call(this, id, code);
        const value = { header: { revision: 0 }, succeeded: true, responses: [], id: 0n, ttl: 1 };
        this.settle(id, { ok: true, value });
      };
      return () => void (ProposalRegistry.prototype.fail = original);
    }
  }
}
