/**
 * JSON as etcd's grpc-gateway (golang/protobuf jsonpb, OrigName, no EmitDefaults) speaks it.
 *
 * Output: fields in .proto declaration order under their .proto names, zero values left out,
 * int64/uint64 as decimal strings, bytes as standard base64, enums by name (numbers without a
 * name stay numbers), empty nested messages as {}.
 * Input: either the .proto name or its lowerCamelCase JSON name, 64-bit integers as strings or
 * numbers, enums by name or number; unknown fields are ignored, as jsonpb does for etcd.
 *
 * Input is mapped to the shape protobufjs's decoder produces (Type.fromObject), so a service
 * cannot tell whether a request came from the gateway or from gRPC.
 */
import protobuf from 'protobufjs';
import { ApiError, GrpcCode } from '../etcd-errors.ts';
import type { RequestMessage } from '../rpc-method.ts';
import { isLong, toBigInt } from '../wire-values.ts';

const SIXTY_FOUR_BIT = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
const INTEGER_TEXT = /^-?\d+$/;
const BASE64_TEXT = /^[A-Za-z0-9+/_-]*={0,2}$/;

function invalid(message: string): ApiError {
  return new ApiError(GrpcCode.INVALID_ARGUMENT, message);
}

function camelCase(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_match, letter: string) => letter.toUpperCase());
}

/** Per message type: the fields by every name JSON may use. Built once per type. */
const inputPlans = new WeakMap<protobuf.Type, Map<string, protobuf.Field>>();

function inputPlan(type: protobuf.Type): Map<string, protobuf.Field> {
  let plan = inputPlans.get(type);
  if (plan === undefined) {
    plan = new Map();
    for (const field of type.fieldsArray) {
      field.resolve();
      plan.set(field.name, field);
      plan.set(camelCase(field.name), field);
    }
    inputPlans.set(type, plan);
  }
  return plan;
}

function scalarFromJson(field: protobuf.Field, value: unknown): unknown {
  if (value === null) return undefined;
  const { resolvedType } = field;
  if (resolvedType instanceof protobuf.Type) return objectFromJson(resolvedType, value);
  if (resolvedType instanceof protobuf.Enum) {
    if (typeof value === 'string' && !(value in resolvedType.values)) {
      throw invalid(`unknown value ${JSON.stringify(value)} for enum ${resolvedType.fullName}`);
    }
    return value;
  }
  if (SIXTY_FOUR_BIT.has(field.type)) {
    if (typeof value === 'string' && !INTEGER_TEXT.test(value)) {
      throw invalid(`invalid value ${JSON.stringify(value)} for 64-bit field ${field.name}`);
    }
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw invalid(`invalid value for 64-bit field ${field.name}`);
    }
    return value;
  }
  if (field.type === 'bytes') {
    if (typeof value !== 'string' || !BASE64_TEXT.test(value)) {
      throw invalid(`illegal base64 data in field ${field.name}`);
    }
    return Buffer.from(value, value.includes('-') || value.includes('_') ? 'base64url' : 'base64');
  }
  return value;
}

function objectFromJson(type: protobuf.Type, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`expected a JSON object for ${type.fullName}`);
  }
  const plan = inputPlan(type);
  const out: Record<string, unknown> = {};
  for (const [name, item] of Object.entries(value)) {
    const field = plan.get(name);
    if (field === undefined) continue;
    if (field.repeated) {
      if (item === null) continue;
      if (!Array.isArray(item)) throw invalid(`expected a JSON array for ${field.name}`);
      out[field.name] = item.map((element) => scalarFromJson(field, element));
    } else {
      const converted = scalarFromJson(field, item);
      if (converted !== undefined) out[field.name] = converted;
    }
  }
  return out;
}

/** A parsed JSON value → a decoded request of `type`. Throws ApiError(InvalidArgument). */
export function requestFromJson(type: protobuf.Type, value: unknown): RequestMessage {
  const shaped = objectFromJson(type, value);
  try {
    return type.fromObject(shaped) as unknown as RequestMessage;
  } catch (error) {
    throw invalid(error instanceof Error ? error.message : String(error));
  }
}

function isDefault(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') {
    return true;
  }
  if (isLong(value)) return value.low === 0 && value.high === 0;
  if (value instanceof Uint8Array || Array.isArray(value)) return value.length === 0;
  return false;
}

function scalarToJson(field: protobuf.Field, value: unknown): string {
  const { resolvedType } = field;
  if (resolvedType instanceof protobuf.Type) {
    return messageToJson(resolvedType, value as Record<string, unknown>);
  }
  if (resolvedType instanceof protobuf.Enum) {
    const name = typeof value === 'number' ? resolvedType.valuesById[value] : value;
    return JSON.stringify(name ?? value);
  }
  if (SIXTY_FOUR_BIT.has(field.type)) {
    return `"${isLong(value) ? toBigInt(value).toString() : String(value)}"`;
  }
  if (field.type === 'bytes') {
    const bytes = value as Uint8Array;
    return `"${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}"`;
  }
  return JSON.stringify(value);
}

/** A response object (see response-messages.ts) of `type` → etcd's gateway JSON text. */
export function messageToJson(type: protobuf.Type, message: Record<string, unknown>): string {
  let out = '{';
  for (const field of type.fieldsArray) {
    const value = message[field.name];
    if (isDefault(value)) continue;
    field.resolve();
    if (out.length > 1) out += ',';
    out += `"${field.name}":`;
    if (field.repeated) {
      out += `[${(value as unknown[]).map((item) => scalarToJson(field, item)).join(',')}]`;
    } else {
      out += scalarToJson(field, value);
    }
  }
  return `${out}}`;
}
