/**
 * sigilctl's printers for each command and output format, shaped after etcdctl 3.4's
 * (etcdctl/ctlv3/command/printer_simple.go, printer_json.go, printer_table.go) so scripts written
 * for etcdctl read sigilctl's output unchanged.
 */
import type {
  DeleteResult,
  KeyValue,
  MemberList,
  MemberStatus,
  PutResult,
  RangeResult,
  ResponseHeader,
  WatchEvent,
} from '../client/index.ts';
import { type GoJsonValue, goJson, humanizeBytes, renderTable } from './sigilctl-text.ts';

export type OutputFormat = 'simple' | 'json' | 'table';

export interface GetPrintOptions {
  readonly countOnly: boolean;
  readonly printValueOnly: boolean;
}

/** Collects output lines; the caller writes them in one go. */
export type Lines = string[];

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');
const hexId = (id: bigint): string => id.toString(16);

function headerJson(header: ResponseHeader): GoJsonValue {
  return {
    cluster_id: header.clusterId,
    member_id: header.memberId,
    revision: header.revision,
    raft_term: header.raftTerm,
  };
}

function kvJson(kv: KeyValue): GoJsonValue {
  return {
    key: kv.key,
    create_revision: kv.createRevision,
    mod_revision: kv.modRevision,
    version: kv.version,
    value: kv.value,
    lease: kv.lease,
  };
}

/** etcdctl's printKV: the key (unless values only), then the value. */
function simpleKv(out: Lines, kv: KeyValue, valueOnly = false): void {
  if (!valueOnly) out.push(text(kv.key));
  out.push(text(kv.value));
}

export function printPut(out: Lines, format: OutputFormat, result: PutResult): void {
  if (format === 'json') {
    out.push(
      goJson({
        header: headerJson(result.header),
        prev_kv: result.prevKv ? kvJson(result.prevKv) : null,
      }),
    );
    return;
  }
  out.push('OK');
  if (result.prevKv) simpleKv(out, result.prevKv);
}

export function printGet(
  out: Lines,
  format: OutputFormat,
  result: RangeResult,
  options: GetPrintOptions,
): void {
  if (format === 'json') {
    out.push(
      goJson({
        header: headerJson(result.header),
        kvs: result.kvs.map(kvJson),
        more: result.more,
        count: result.count,
      }),
    );
    return;
  }
  if (options.countOnly) {
    out.push(String(result.count));
    return;
  }
  // With --keys-only the server returns empty values, so etcdctl prints an empty line per value.
  for (const kv of result.kvs) simpleKv(out, kv, options.printValueOnly);
}

export function printDelete(out: Lines, format: OutputFormat, result: DeleteResult): void {
  if (format === 'json') {
    out.push(
      goJson({
        header: headerJson(result.header),
        deleted: result.deleted,
        prev_kvs: result.prevKvs.map(kvJson),
      }),
    );
    return;
  }
  out.push(String(result.deleted));
  for (const kv of result.prevKvs) simpleKv(out, kv);
}

export function printWatchEvent(out: Lines, format: OutputFormat, event: WatchEvent): void {
  if (format === 'json') {
    out.push(
      goJson({
        type: event.type === 'delete' ? 1 : 0,
        kv: kvJson(event.kv),
        prev_kv: event.prevKv ? kvJson(event.prevKv) : null,
      }),
    );
    return;
  }
  out.push(event.type === 'delete' ? 'DELETE' : 'PUT');
  if (event.prevKv) simpleKv(out, event.prevKv);
  simpleKv(out, event.kv);
}

export function printMemberList(out: Lines, format: OutputFormat, list: MemberList): void {
  if (format === 'json') {
    const members = list.members.map((member) => ({
      ID: member.id,
      name: member.name,
      peerURLs: member.peerUrls,
      clientURLs: member.clientUrls,
      isLearner: member.isLearner,
    }));
    out.push(goJson({ header: headerJson(list.header), members }));
    return;
  }
  const rows = list.members.map((member) => [
    hexId(member.id),
    member.name === '' ? 'unstarted' : 'started',
    member.name,
    member.peerUrls.join(','),
    member.clientUrls.join(','),
    String(member.isLearner),
  ]);
  if (format === 'table') {
    const header = ['ID', 'STATUS', 'NAME', 'PEER ADDRS', 'CLIENT ADDRS', 'IS LEARNER'];
    out.push(renderTable(header, rows));
    return;
  }
  for (const row of rows) out.push(row.join(', '));
}

export interface EndpointStatus {
  readonly endpoint: string;
  readonly status: MemberStatus;
}

export function printEndpointStatus(
  out: Lines,
  format: OutputFormat,
  statuses: readonly EndpointStatus[],
): void {
  if (format === 'json') {
    const entries = statuses.map(({ endpoint, status }) => ({
      Endpoint: endpoint,
      Status: {
        header: headerJson(status.header),
        version: status.version,
        dbSize: status.dbSize,
        leader: status.leader,
        raftIndex: status.raftIndex,
        raftTerm: status.raftTerm,
        raftAppliedIndex: status.raftAppliedIndex,
        errors: status.errors,
        dbSizeInUse: status.dbSizeInUse,
        isLearner: status.isLearner,
      },
    }));
    out.push(goJson(entries));
    return;
  }
  const rows = statuses.map(({ endpoint, status }) => [
    endpoint,
    hexId(status.header.memberId),
    status.version,
    humanizeBytes(status.dbSize),
    String(status.leader === status.header.memberId),
    String(status.isLearner),
    String(status.raftTerm),
    String(status.raftIndex),
    String(status.raftAppliedIndex),
    status.errors.join(', '),
  ]);
  if (format === 'table') {
    const header = [
      'ENDPOINT',
      'ID',
      'VERSION',
      'DB SIZE',
      'IS LEADER',
      'IS LEARNER',
      'RAFT TERM',
      'RAFT INDEX',
      'RAFT APPLIED INDEX',
      'ERRORS',
    ];
    out.push(renderTable(header, rows));
    return;
  }
  for (const row of rows) out.push(row.join(', '));
}
