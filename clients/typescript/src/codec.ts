/**
 * How frames go on the wire. The client speaks frames as plain objects in their JSON shape (the
 * field names of schemas/frames.proto, snake_case, as docs/protocol.md shows them); a codec turns
 * them into WebSocket messages and back.
 *
 * - `JsonCodec`: JSON text frames (subprotocol `aicore.json.v1`).
 * - `ProtobufCodec`: subprotocol `aicore.proto.v1`. The server sends binary `ServerFrame`s; the
 *   client sends a text frame `{"action", "proto": <base64 of a ClientFrame>}` (API Gateway closes a
 *   connection that sends binary frames with 1003, and routes on `action`).
 *
 * A decoded protobuf frame has the shape of its JSON twin (aicore/wire.py's `decode_server` does the
 * same in Python): the envelope's fields inline, `data` for a body, int64 as numbers, and a field the
 * server left unset absent rather than null.
 */
import { fromBinary, fromJson, toBinary, toJson, type JsonValue } from "@bufbuild/protobuf";
import type { DescField, DescMessage } from "@bufbuild/protobuf";
import { ScalarType } from "@bufbuild/protobuf";
import { base64Decode, base64Encode } from "@bufbuild/protobuf/wire";
import { ClientFrameSchema, ServerFrameSchema } from "./gen/frames_pb.js";

export type Frame = Record<string, unknown>;

export const JSON_SUBPROTOCOL = "aicore.json.v1";
export const PROTO_SUBPROTOCOL = "aicore.proto.v1";

export interface Codec {
  /** What to offer in `Sec-WebSocket-Protocol`. */
  readonly subprotocol: string;
  /** A client frame (`{action, request_id, ...}`) as one WebSocket message. */
  encode(frame: Frame): string;
  /** One WebSocket message from the server as a frame; throws if it is not one. */
  decode(message: string | ArrayBuffer | Uint8Array): Frame;
}

export class JsonCodec implements Codec {
  readonly subprotocol = JSON_SUBPROTOCOL;

  encode(frame: Frame): string {
    return JSON.stringify(frame);
  }

  decode(message: string | ArrayBuffer | Uint8Array): Frame {
    const text = typeof message === "string" ? message : new TextDecoder().decode(message);
    const decoded: unknown = JSON.parse(text);
    if (decoded === null || typeof decoded !== "object" || Array.isArray(decoded)) {
      throw new Error("a frame is a JSON object");
    }
    return decoded as Frame;
  }
}

export class ProtobufCodec implements Codec {
  readonly subprotocol = PROTO_SUBPROTOCOL;

  encode(frame: Frame): string {
    return JSON.stringify({ action: frame.action, proto: base64Encode(encodeClient(frame)) });
  }

  decode(message: string | ArrayBuffer | Uint8Array): Frame {
    if (typeof message === "string") {
      // API Gateway's own frames ({"message": "Too Many Requests", ...}) are JSON text on any connection.
      return new JsonCodec().decode(message);
    }
    return decodeServer(message instanceof Uint8Array ? message : new Uint8Array(message));
  }
}

/** A client frame's object (as sent in JSON) as `ClientFrame` bytes. */
export function encodeClient(frame: Frame): Uint8Array {
  const { action, ...fields } = frame;
  if (typeof action !== "string") throw new Error("a client frame names its action");
  const body: Record<string, JsonValue> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined && value !== null) body[name] = value as JsonValue; // absent and null are one
  }
  const message = fromJson(ClientFrameSchema, { [action.replaceAll(".", "_")]: body });
  return toBinary(ClientFrameSchema, message);
}

/** `ServerFrame` bytes as the frame's object (the JSON frame's shape). */
export function decodeServer(bytes: Uint8Array): Frame {
  const message = fromBinary(ServerFrameSchema, bytes);
  const json = plain(ServerFrameSchema, toJson(ServerFrameSchema, message, OPTIONS)) as Frame;
  const frame: Frame = { type: json.type };
  if (json.request_id !== undefined) frame.request_id = json.request_id;
  const body = message.body.case;
  if (body === "envelope") {
    Object.assign(frame, json.envelope);
    if (json.npc_reply !== undefined) frame.data = json.npc_reply; // typed npc.reply data
  } else if (body !== undefined) {
    frame.data = json[BODY_FIELDS[body]];
  }
  return frame;
}

/** `ClientFrame` bytes as the frame's object (`{action, ...the fields set}`): what the server reads
 * (aicore/wire.py's `decode_client`); for tests and tools that stand in for a server. */
export function decodeClient(bytes: Uint8Array): Frame {
  const message = fromBinary(ClientFrameSchema, bytes);
  const field = message.action.case;
  if (field === undefined) throw new Error("the ClientFrame sets no action");
  const json = plain(ClientFrameSchema, toJson(ClientFrameSchema, message, { useProtoFieldName: true })) as Frame;
  const name = ClientFrameSchema.fields.find((f) => f.localName === field)?.name ?? field;
  return { action: name.replaceAll("_", "."), ...(json[name] as Frame) };
}

/** A server frame's object (`{type, request_id, ...}`) as `ServerFrame` bytes (aicore/wire.py's
 * `encode_server`); for tests and tools that stand in for a server. */
export function encodeServer(frame: Frame): Uint8Array {
  const { type, request_id, ...fields } = frame;
  const json: Record<string, JsonValue> = { type: String(type) };
  if (request_id !== undefined && request_id !== null) json.request_id = String(request_id);
  const body = DATA_BODIES[String(type)];
  if (body !== undefined) {
    json[body] = dropNulls(fields.data);
  } else {
    const { data, ...envelope } = fields;
    if (type === "npc.reply" && data !== undefined && data !== null) json.npc_reply = dropNulls(data);
    else if (data !== undefined) envelope.data = data;
    json.envelope = dropNulls(envelope);
  }
  return toBinary(ServerFrameSchema, fromJson(ServerFrameSchema, json));
}

/** Base64 helpers for callers that hold a frame as text (tests, logs). */
export { base64Decode, base64Encode };

// Fields with no presence are written with their defaults (false, 0, "", [], {}), as Python's
// decoder does; unset optional ones and messages are left out.
const OPTIONS = { useProtoFieldName: true, alwaysEmitImplicit: true } as const;

const BODY_FIELDS: Record<string, string> = {
  token: "token",
  worldUpdate: "world_update",
  connectionWarning: "connection_warning",
  sessionMessage: "session_message",
  questUpdate: "quest_update",
  audio: "audio",
  transcript: "transcript",
};

const DATA_BODIES: Record<string, string> = {
  "npc.token": "token",
  "world.update": "world_update",
  "connection.warning": "connection_warning",
  "session.message": "session_message",
  "quest.update": "quest_update",
  "npc.audio": "audio",
  "npc.transcript": "transcript",
};

/** Nulls out of a message's fields (absent and null are one in protobuf); a google.protobuf.Value
 * keeps its nulls (`data: null`, a fact's `value: null`) as the JSON mapping reads them. */
function dropNulls(value: unknown): JsonValue {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value as JsonValue;
  return Object.fromEntries(
    Object.entries(value).filter(([, item]) => item !== null && item !== undefined),
  ) as JsonValue;
}

const INT64 = new Set<ScalarType>([
  ScalarType.INT64,
  ScalarType.UINT64,
  ScalarType.SINT64,
  ScalarType.FIXED64,
  ScalarType.SFIXED64,
]);

/** The protobuf JSON mapping writes int64 as strings; frames carry them as JSON numbers (seqs,
 * versions, counts: all far below 2^53). Walks the schema beside its JSON and turns them back. */
function plain(desc: DescMessage, json: JsonValue): JsonValue {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return json;
  if (desc.typeName.startsWith("google.protobuf.")) return json; // Value, Struct: already plain JSON
  const out: Record<string, JsonValue> = { ...json };
  for (const field of desc.fields) {
    const value = out[field.name];
    if (value !== undefined) out[field.name] = plainField(field, value);
  }
  return out;
}

function plainField(field: DescField, value: JsonValue): JsonValue {
  switch (field.fieldKind) {
    case "scalar":
      return INT64.has(field.scalar) ? Number(value) : value;
    case "message":
      return plain(field.message, value);
    case "list":
      if (!Array.isArray(value)) return value;
      if (field.listKind === "message") return value.map((item) => plain(field.message, item));
      return field.listKind === "scalar" && INT64.has(field.scalar) ? value.map(Number) : value;
    case "map": {
      if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
      const entries = Object.entries(value).map(([key, item]): [string, JsonValue] => {
        if (field.mapKind === "message") return [key, plain(field.message, item)];
        return [key, field.mapKind === "scalar" && INT64.has(field.scalar) ? Number(item) : item];
      });
      return Object.fromEntries(entries);
    }
    default:
      return value;
  }
}
