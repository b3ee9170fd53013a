/**
 * etcdserverpb.Maintenance: Status, HashKV, Alarm (GET, DEACTIVATE), Defragment, MoveLeader and
 * the Snapshot stream, in etcd's own file format (see src/backup). Hash (a hash of the whole
 * backend file), Downgrade and alarm activation answer Unimplemented until their issues land.
 */
import { spoolEtcdSnapshot } from '../../backup/index.ts';
import type { AlarmMember, AlarmType, ServerApi } from '../../server/server-api.ts';
import { API_ERRORS } from '../etcd-errors.ts';
import { headerMessage, type WireMessage } from '../response-messages.ts';
import { moveLeaderMethod } from './maintenance-move-leader.ts';
import { type MethodHandler, unary } from '../rpc-method.ts';
import { longOf, toBigInt, toNumber, type WireInt64 } from '../wire-values.ts';

const ALARM_TYPES: readonly AlarmType[] = ['NONE', 'NOSPACE', 'CORRUPT'];
const ALARM_GET = 0;
const ALARM_DEACTIVATE = 2;

function alarmsMessage(alarms: readonly AlarmMember[]): WireMessage {
  // etcd 3.4's Alarm responses carry no header (its gateway prints `{}` for an empty list).
  if (alarms.length === 0) return {};
  return {
    alarms: alarms.map((alarm) => {
      const message: WireMessage = {};
      if (alarm.memberId !== 0n) message.memberID = longOf(alarm.memberId, true);
      const type = ALARM_TYPES.indexOf(alarm.alarm);
      if (type > 0) message.alarm = type;
      return message;
    }),
  };
}

export function maintenanceMethods(server: ServerApi): Record<string, MethodHandler> {
  return {
    Status: unary(async () => {
      const status = await server.status();
      const message: WireMessage = { header: headerMessage(status.header) };
      if (status.version !== '') message.version = status.version;
      if (status.dbSize !== 0) message.dbSize = status.dbSize;
      if (status.leader !== 0n) message.leader = longOf(status.leader, true);
      if (status.raftIndex !== 0) message.raftIndex = status.raftIndex;
      if (status.raftTerm !== 0) message.raftTerm = status.raftTerm;
      if (status.raftAppliedIndex !== 0) message.raftAppliedIndex = status.raftAppliedIndex;
      if (status.errors.length !== 0) message.errors = status.errors;
      if (status.dbSizeInUse !== 0) message.dbSizeInUse = status.dbSizeInUse;
      if (status.isLearner) message.isLearner = true;
      return message;
    }),
    HashKV: unary(async (request) => {
      const result = await server.hashKv(toNumber(request.revision as WireInt64));
      const message: WireMessage = { header: headerMessage(result.header) };
      if (result.hash !== 0) message.hash = result.hash;
      if (result.compactRevision !== 0) message.compact_revision = result.compactRevision;
      if (result.hashRevision !== 0) message.hash_revision = result.hashRevision;
      return message;
    }),
    Hash: unary(async () => {
      throw API_ERRORS.unimplemented('Maintenance.Hash (use HashKV)');
    }),
    Alarm: unary(async (request) => {
      const action = request.action as number;
      if (action === ALARM_GET) return alarmsMessage((await server.alarmList()).alarms);
      if (action === ALARM_DEACTIVATE) {
        const alarm = ALARM_TYPES[request.alarm as number] ?? 'NONE';
        const memberId = toBigInt(request.memberID as WireInt64);
        return alarmsMessage((await server.alarmDisarm({ memberId, alarm })).alarms);
      }
      throw API_ERRORS.unimplemented('Maintenance.Alarm ACTIVATE');
    }, true),
    Defragment: unary(async () => {
      await server.defragment();
      // etcd answers Defragment with an empty response (no header).
      return {};
    }),
    Snapshot: {
      kind: 'stream',
      open: (call) => {
        let started = false;
        const send = async (): Promise<void> => {
          // etcd's format (a bbolt database, then its SHA-256); remaining_bytes counts the
          // database bytes still to come, as etcd's does, so clients can show progress.
          const snapshot = await spoolEtcdSnapshot(server.snapshot());
          let sent = 0;
          for await (const chunk of snapshot.stream()) {
            if (call.closed) break;
            const message: WireMessage = { blob: chunk };
            if (sent < snapshot.databaseBytes) {
              sent += chunk.length;
              const remaining = snapshot.databaseBytes - sent;
              if (remaining > 0) message.remaining_bytes = remaining;
            }
            if (!call.send(message)) await call.drained();
          }
          call.end();
        };
        return {
          message: () => {
            if (started) return;
            started = true;
            send().catch((error: unknown) => call.end(error));
          },
          halfClose: () => {
            if (!started) call.end(API_ERRORS.malformed('Snapshot needs a request message'));
          },
        };
      },
    },
    MoveLeader: moveLeaderMethod(server),
    Downgrade: unary(async () => {
      throw API_ERRORS.unimplemented('Maintenance.Downgrade');
    }, true),
  };
}
