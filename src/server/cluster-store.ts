/**
 * Replicated cluster metadata kept in the backend next to the MVCC data, so a snapshot carries
 * it: the member list (bucket `members`, key = member id as 8 bytes big-endian, value = JSON)
 * and the active alarms (bucket `alarm`, key = member id (8 bytes) + alarm code (1 byte)).
 */
import { assert } from '../base/index.ts';
import type { BackendReader, BackendWriter } from '../storage/index.ts';
import type { AlarmMember, AlarmType, Member } from './server-api.ts';

const ALARM_CODES: Record<Exclude<AlarmType, 'NONE'>, number> = { NOSPACE: 1, CORRUPT: 2 };

function idKey(id: bigint): Uint8Array {
  assert(id > 0n && id < 1n << 64n, 'member ids are nonzero u64');
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, id);
  return bytes;
}

const readId = (bytes: Uint8Array): bigint =>
  new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0);

export function encodeMember(member: Member): Uint8Array {
  const json = JSON.stringify({ ...member, id: member.id.toString(16) });
  return new TextEncoder().encode(json);
}

export function decodeMember(bytes: Uint8Array): Member {
  const raw = JSON.parse(new TextDecoder().decode(bytes)) as Omit<Member, 'id'> & { id: string };
  assert(typeof raw.id === 'string' && Array.isArray(raw.peerUrls), 'a member record');
  return {
    id: BigInt(`0x${raw.id}`),
    name: raw.name ?? '',
    peerUrls: raw.peerUrls,
    clientUrls: raw.clientUrls ?? [],
    isLearner: raw.isLearner === true,
  };
}

export function writeMember(writer: BackendWriter, member: Member): void {
  writer.put('members', idKey(member.id), encodeMember(member));
}

export function deleteMember(writer: BackendWriter, id: bigint): void {
  writer.delete('members', idKey(id));
}

export function readMember(reader: BackendReader, id: bigint): Member | undefined {
  const bytes = reader.get('members', idKey(id));
  return bytes === undefined ? undefined : decodeMember(new Uint8Array(bytes));
}

/** Members by ascending id. */
export function readMembers(reader: BackendReader): Member[] {
  return reader
    .range('members', new Uint8Array(0), undefined)
    .map(({ value }) => decodeMember(value));
}

export function writeAlarm(
  writer: BackendWriter,
  alarm: AlarmMember,
  action: 'activate' | 'deactivate',
): void {
  assert(alarm.alarm !== 'NONE', 'NONE is not an alarm one can raise or clear');
  const key = new Uint8Array(9);
  key.set(idKey(alarm.memberId));
  key[8] = ALARM_CODES[alarm.alarm];
  if (action === 'activate') writer.put('alarm', key, new Uint8Array(0));
  else writer.delete('alarm', key);
}

export function readAlarms(reader: BackendReader): AlarmMember[] {
  return reader.range('alarm', new Uint8Array(0), undefined).map(({ key }) => {
    const code = key[8];
    const alarm = code === ALARM_CODES.NOSPACE ? 'NOSPACE' : 'CORRUPT';
    assert(code === ALARM_CODES.NOSPACE || code === ALARM_CODES.CORRUPT, 'known alarm code');
    return { memberId: readId(key), alarm };
  });
}
