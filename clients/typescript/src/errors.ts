/** What the client throws: the server's errors (an `error` frame's envelope), typed by code, and
 * the connection's own failures. Mirrors clients/python/aicore_client/errors.py. */
import type { Frame } from "./codec.js";

/** The server refused or failed a request: `code` is the envelope's error code (`not_found`,
 * `rate_limited`, ...; the table is in docs/protocol.md), `message` says what to do, `details`
 * holds the specifics. */
export class AicoreError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown>;
  readonly requestId: string | undefined;
  readonly correlationId: string | undefined;

  constructor(
    code: string,
    message: string,
    details: Record<string, unknown> = {},
    ids: { requestId?: string; correlationId?: string } = {},
  ) {
    super(message);
    this.name = "AicoreError";
    this.code = code;
    this.details = details;
    this.requestId = ids.requestId;
    this.correlationId = ids.correlationId;
  }

  /** `[code] message`, as a person reads it. */
  override toString(): string {
    return `[${this.code}] ${this.message}`;
  }
}

/** Over the turn budget: try again after `retryAfterMs`. */
export class RateLimited extends AicoreError {
  get retryAfterMs(): number | undefined {
    const value = this.details.retry_after_ms;
    return typeof value === "number" ? value : undefined;
  }
}

/** A repeated request whose first run still works (the client retries these itself after a
 * reconnect; you see one only for a request id you repeated yourself). */
export class RequestInProgress extends AicoreError {}

/** This client version may no longer play: `details.minimum` is the version to update to. */
export class UpgradeRequired extends AicoreError {}

const BY_CODE: Record<string, typeof AicoreError> = {
  rate_limited: RateLimited,
  request_in_progress: RequestInProgress,
  upgrade_required: UpgradeRequired,
};

/** The error for an `error` frame (an envelope with `ok: false`). */
export function errorFromEnvelope(frame: Frame): AicoreError {
  const error = isObject(frame.error) ? frame.error : {};
  const code = typeof error.code === "string" && error.code ? error.code : "internal_error";
  const message = typeof error.message === "string" && error.message ? error.message : "The server gave no message.";
  const Kind = BY_CODE[code] ?? AicoreError;
  return new Kind(code, message, isObject(error.details) ? error.details : {}, {
    requestId: typeof frame.request_id === "string" ? frame.request_id : undefined,
    correlationId: typeof frame.correlation_id === "string" ? frame.correlation_id : undefined,
  });
}

/** The connection dropped and could not be brought back (or the client was closed, or it never
 * opened): requests still waiting fail with this. */
export class ConnectionLost extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConnectionLost";
  }
}

/** A request got no answer in time (its own timeout, or a turn's). */
export class RequestTimeout extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RequestTimeout";
  }
}

/** A frame API Gateway sent itself (`{"message": "Too Many Requests", ...}`): it names no request
 * of ours, so it fails none; the client emits it as a `gateway` event. */
export interface GatewayNotice {
  message: string;
  gatewayRequestId: string | undefined;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
