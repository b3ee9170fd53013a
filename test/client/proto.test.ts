/**
 * The .proto files are the wire contract, so they are checked two independent ways: against the
 * protocol definitions bundled with the etcd3 npm client (another transcription of etcd's files;
 * every field it declares must have the same number and type here), and against bytes encoded by
 * hand from the protobuf wire format.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import protobuf from 'protobufjs';
import {
  PROTO_DIRECTORY,
  SERVICE_NAMES,
  loadServiceDefinitions,
} from '../../src/api/proto/index.ts';
import { method } from '../../src/client/proto.ts';

const require = createRequire(import.meta.url);
const ETCD3_PROTO_DIRECTORY = join(dirname(require.resolve('etcd3/package.json')), 'proto');

function loadRoot(directory: string): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(directory, target.replace(/^.*\//, ''));
  root.loadSync(
    ['rpc.proto', 'kv.proto', 'auth.proto'].map((file) => join(directory, file)),
    {
      keepCase: true,
    },
  );
  root.resolveAll();
  return root;
}

function messagesOf(namespace: protobuf.NamespaceBase, out: protobuf.Type[] = []): protobuf.Type[] {
  for (const nested of namespace.nestedArray) {
    if (nested instanceof protobuf.Type) out.push(nested);
    if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) {
      messagesOf(nested, out);
    }
  }
  return out;
}

test('every message field of the etcd3 client protos has the same number and type here', () => {
  const ours = loadRoot(PROTO_DIRECTORY);
  const theirs = loadRoot(ETCD3_PROTO_DIRECTORY);
  const messages = messagesOf(theirs);
  assert.ok(messages.length > 80, `expected etcd's full API, found ${messages.length} messages`);
  let fields = 0;
  for (const message of messages) {
    const mine = ours.lookupType(message.fullName);
    for (const field of message.fieldsArray) {
      const counterpart = mine.fields[field.name];
      assert.ok(counterpart, `${message.fullName}.${field.name} is missing`);
      assert.equal(counterpart.id, field.id, `${message.fullName}.${field.name} number`);
      assert.equal(
        counterpart.repeated,
        field.repeated,
        `${message.fullName}.${field.name} repeated`,
      );
      // Enum and message types are compared by name, scalars by protobuf type.
      assert.equal(
        counterpart.resolvedType?.name ?? counterpart.type,
        field.resolvedType?.name ?? field.type,
        `${message.fullName}.${field.name} type`,
      );
      fields++;
    }
  }
  assert.ok(fields > 200, `compared only ${fields} fields`);
});

test('every service method of the etcd3 client protos exists with the same types', () => {
  const ours = loadRoot(PROTO_DIRECTORY);
  const theirs = loadRoot(ETCD3_PROTO_DIRECTORY);
  for (const name of ['KV', 'Watch', 'Lease', 'Cluster', 'Maintenance', 'Auth']) {
    const service = theirs.lookupService(`etcdserverpb.${name}`);
    const mine = ours.lookupService(`etcdserverpb.${name}`);
    for (const rpc of service.methodsArray) {
      const counterpart = mine.methods[rpc.name];
      assert.ok(counterpart, `${name}.${rpc.name} is missing`);
      assert.equal(counterpart.requestType, rpc.requestType);
      assert.equal(counterpart.responseType, rpc.responseType);
      assert.equal(Boolean(counterpart.requestStream), Boolean(rpc.requestStream));
      assert.equal(Boolean(counterpart.responseStream), Boolean(rpc.responseStream));
    }
  }
});

test('a PutRequest encodes to the bytes the wire format prescribes', () => {
  const put = method<Record<string, unknown>, unknown>('etcdserverpb.KV', 'Put');
  const bytes = put.serialize({
    key: Buffer.from('a'),
    value: Buffer.from('b'),
    lease: '5',
    prev_kv: true,
  });
  // field 1 bytes "a", field 2 bytes "b", field 3 varint 5, field 4 varint 1.
  assert.deepEqual([...bytes], [0x0a, 1, 0x61, 0x12, 1, 0x62, 0x18, 5, 0x20, 1]);
});

test('64-bit ids survive decoding exactly (longs as strings)', () => {
  const list = method<unknown, { members: { ID: string }[] }>('etcdserverpb.Cluster', 'MemberList');
  // MemberListResponse{members: [Member{ID: 2^64-1}]}: field 2 (len 11) holding field 1 varint.
  const id = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
  const decoded = list.deserialize(Buffer.from([0x12, 11, 0x08, ...id]));
  assert.equal(decoded.members[0].ID, '18446744073709551615');
});

test('Compare.range_end is field 64 and the target union is a oneof', () => {
  const root = loadRoot(PROTO_DIRECTORY);
  const compare = root.lookupType('etcdserverpb.Compare');
  assert.equal(compare.fields.range_end.id, 64);
  assert.deepEqual(
    compare.oneofs.target_union.fieldsArray.map((field) => field.id),
    [4, 5, 6, 7, 8],
  );
});

test('the loader exposes every etcd service by its gRPC name', () => {
  const services = loadServiceDefinitions();
  assert.equal(services.kv.Range.path, '/etcdserverpb.KV/Range');
  assert.equal(services.watch.Watch.requestStream, true);
  assert.equal(services.lock.Lock.path, '/v3lockpb.Lock/Lock');
  assert.equal(services.election.Observe.responseStream, true);
  assert.equal(services.health.Check.path, '/grpc.health.v1.Health/Check');
  assert.equal(Object.keys(SERVICE_NAMES).length, 9);
  assert.equal(Object.keys(services.maintenance).length >= 8, true);
});
