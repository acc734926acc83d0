/** aicore's TypeScript client: `connect(url, token, {encoding: "protobuf"})`. See README.md. */
export {
  Client,
  Turn,
  connect,
  newRequestId,
  withQuery,
  CLIENT_VERSION,
  DEFAULT_CLIENT,
  DEFAULT_BACKOFF,
  type Backoff,
  type ClientOptions,
  type ConnectionState,
  type Events,
  type SocketFactory,
  type SocketLike,
  type StateChange,
} from "./client.js";
export {
  JsonCodec,
  ProtobufCodec,
  JSON_SUBPROTOCOL,
  PROTO_SUBPROTOCOL,
  encodeClient,
  decodeServer,
  decodeClient,
  encodeServer,
  base64Decode,
  base64Encode,
  type Codec,
  type Frame,
} from "./codec.js";
export {
  AicoreError,
  ConnectionLost,
  RateLimited,
  RequestInProgress,
  RequestTimeout,
  UpgradeRequired,
  errorFromEnvelope,
  type GatewayNotice,
} from "./errors.js";
export type * from "./models.js";
