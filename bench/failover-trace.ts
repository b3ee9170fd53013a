/**
 * `npm run bench:failover -- --trace`: for each Sigil run, the survivors' raft role changes
 * (from their pino logs, `raft role changed`) and lost peer streams (`peer stream lost`, shown
 * as `lost`) as milliseconds after the SIGKILL, next to the client's first successful write. It shows where a slow failover spent its time: waiting for
 * an election timeout, a refused pre-vote, a split vote, or the client finding the new leader.
 */

export interface RoleChange {
  /** Milliseconds after the kill (wall clock of the member's log line). */
  readonly atMs: number;
  readonly member: string;
  readonly role: string;
  readonly term: number;
  readonly leader: string;
}

interface RoleChangeLine {
  readonly msg?: unknown;
  readonly time?: unknown;
  readonly name?: unknown;
  readonly role?: unknown;
  readonly term?: unknown;
  readonly leader?: unknown;
}

/** Role changes logged after `killedAtMs` (Date.now() at the kill) in the members' logs. */
export function roleChangesAfter(logs: readonly string[], killedAtMs: number): RoleChange[] {
  const changes: RoleChange[] = [];
  for (const log of logs) {
    for (const line of log.split('\n')) {
      const streamLost = line.includes('peer stream lost');
      if (!streamLost && !line.includes('raft role changed')) continue;
      let parsed: RoleChangeLine;
      try {
        parsed = JSON.parse(line) as RoleChangeLine;
      } catch {
        continue; // A line cut by the log buffer's trimming.
      }
      if (typeof parsed.time !== 'number' || parsed.time < killedAtMs) continue;
      changes.push({
        atMs: parsed.time - killedAtMs,
        member: String(parsed.name),
        role: streamLost ? 'lost' : String(parsed.role),
        term: Number(parsed.term),
        leader: String(parsed.leader),
      });
    }
  }
  return changes.sort((a, b) => a.atMs - b.atMs);
}

/** One line per run: `+812 sigil1 pre-candidate t2 | +815 sigil1 candidate t3 | …`. */
export function describeTimeline(changes: readonly RoleChange[], writeMs: number): string {
  const steps = changes.map((change) =>
    change.role === 'lost'
      ? `+${change.atMs} ${change.member} lost`
      : `+${change.atMs} ${change.member} ${change.role} t${change.term}`,
  );
  return `    trace: ${steps.join(' | ')} || write +${Math.round(writeMs)}`;
}
