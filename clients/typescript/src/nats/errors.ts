/** What the NATS half throws: a refusal or failure with a stable `code`. */
import { errors as natsErrors } from "@nats-io/transport-node";

import type { AnswerFailed, DocumentDeleted, DocumentFailed } from "../generated/events.js";

/**
 * `code` says what went wrong:
 * - `invalid_input`: the call's arguments (checked before anything is sent);
 * - `permission_denied`: NATS refused a publish or subscription to this key (a
 *   `reader` key uploading, say): the server's `permissions violation`;
 * - `unauthorized`: NATS refused the key at connect (unknown, revoked, expired,
 *   or an access token instead of an API key);
 * - `timeout`: no ack, answer or document event in time;
 * - `aborted`: the caller's signal; `closed`: the client was closed;
 * - `nats_error`: anything else NATS or JetStream answered (see `cause`).
 */
export type NatsErrorCode =
  "invalid_input" | "permission_denied" | "unauthorized" | "timeout" | "aborted" | "closed" | "nats_error";

export class RagbusNatsError extends Error {
  constructor(
    readonly code: NatsErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "RagbusNatsError";
  }
}

/** A question ragbus could not answer: the `answer.failed` event, with its `code`. */
export class AnswerFailedError extends Error {
  readonly code: string;
  constructor(readonly event: AnswerFailed) {
    super(`ragbus could not answer query ${event.query_id}: ${event.error} (${event.code})`);
    this.name = "AnswerFailedError";
    this.code = event.code;
  }
}

/** A document that will not be indexed: its `document.failed` (with `code`) or
 * `document.deleted` event. */
export class DocumentFailedError extends Error {
  readonly code: string;
  constructor(readonly event: DocumentFailed | DocumentDeleted) {
    const failed = "code" in event;
    super(
      failed
        ? `document ${event.document_id} failed: ${event.error} (${event.code})`
        : `document ${event.document_id} was deleted before it was indexed`,
    );
    this.name = "DocumentFailedError";
    this.code = failed ? event.code : "deleted";
  }
}

/** The nats.js error behind `error`, if any (a request's error wraps it in `cause`). */
function natsCause<T extends Error>(error: unknown, type: abstract new (...args: never[]) => T): T | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof type) return e;
  }
  return undefined;
}

/** `error` from nats.js as a `RagbusNatsError` saying what `doing` was. */
export function fromNats(error: unknown, doing: string): Error {
  if (error instanceof RagbusNatsError || error instanceof AnswerFailedError) return error;
  const denied = natsCause(error, natsErrors.PermissionViolationError);
  if (denied) {
    return new RagbusNatsError(
      "permission_denied",
      `${doing}: NATS refused to ${denied.operation === "publish" ? "publish to" : "subscribe to"} ` +
        `"${denied.subject}" for this key (permissions violation; a reader key may ask and listen, not upload)`,
      { cause: error },
    );
  }
  if (natsCause(error, natsErrors.AuthorizationError) || natsCause(error, natsErrors.UserAuthenticationExpiredError)) {
    return new RagbusNatsError(
      "unauthorized",
      `${doing}: NATS refused the key (Authorization Violation): use one of the tenant's API keys, ` +
        "not an access token, and check that it is not revoked or expired",
      { cause: error },
    );
  }
  if (natsCause(error, natsErrors.TimeoutError)) {
    return new RagbusNatsError("timeout", `${doing}: no answer from NATS in time`, { cause: error });
  }
  if (natsCause(error, natsErrors.ClosedConnectionError)) {
    return new RagbusNatsError("closed", `${doing}: the NATS connection is closed`, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new RagbusNatsError("nats_error", `${doing}: ${message}`, { cause: error });
}
