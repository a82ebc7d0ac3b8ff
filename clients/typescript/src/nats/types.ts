/**
 * The NATS half's types. Every event is the generated `RagbusEvents[family]`
 * (src/generated/events.ts, from schemas/jsonschema); what is declared here is only
 * the shape of `GET /v1/nats` (an open object in the OpenAPI document) and the
 * client's own options.
 */
import type { ConnectionOptions } from "@nats-io/transport-node";

import type { ChunkingStrategy, DocumentUploaded, QueryRequested, RagbusEvents } from "../generated/events.js";

/** The subject families a tenant's client sees (`GET /v1/nats`' `subjects`). */
export type ClientFamily = Extract<
  keyof RagbusEvents,
  | "document.uploaded"
  | "document.status"
  | "document.indexed"
  | "document.failed"
  | "document.deleted"
  | "query.requested"
  | "answer.ready"
  | "answer.failed"
  | "answer.delta"
>;

/** The families a client publishes (a `reader` key: `query.requested` only). */
export type PublishedFamily = Extract<ClientFamily, "document.uploaded" | "query.requested">;

/** The families a client receives (every role). */
export type ReceivedFamily = Exclude<ClientFamily, PublishedFamily>;

/** A document's events, as `followDocument` yields them. */
export type DocumentFamily = Extract<
  ReceivedFamily,
  "document.status" | "document.indexed" | "document.failed" | "document.deleted"
>;

/** One document event with its family: narrow on `family` to get the payload's type. */
export type NatsDocumentEvent = { [F in DocumentFamily]: { family: F; event: RagbusEvents[F] } }[DocumentFamily];

/** Where and how a tenant's client connects: the JSON of `GET /v1/nats`. */
export interface NatsAccess {
  /** NATS URLs, e.g. `["nats://127.0.0.1:4222"]`. */
  servers: string[];
  /** The tenant id (the events' `tenant_id`; subjects carry it with `.` as `~`). */
  tenant: string;
  /** The key's role: `admin`, `member` or `reader`. */
  role?: string;
  /** The inbox prefix the connection must use: `_INBOX.<tenant token>`. */
  inbox_prefix: string;
  /** Each family's subject for this tenant; `answer.delta`'s ends in `<query_id>`. */
  subjects: Partial<Record<ClientFamily, string>>;
  /** What NATS lets this key publish and subscribe to. */
  permissions?: { publish: string[]; subscribe: string[] };
}

/** How `RagbusNats.connect` finds and reaches NATS. */
export interface NatsClientOptions {
  /** One of the tenant's API keys (`rbk_...`): the NATS connect token. An access
   * token (JWT) is refused by NATS. */
  apiKey: string;
  /** The gateway; `GET /v1/nats` there says the servers, inbox prefix and subjects. */
  gatewayUrl?: string;
  /** The answer of `GET /v1/nats`, to connect without asking the gateway. Only
   * `servers` and `tenant` are needed: `tenantAccess(tenant, servers)` fills in the rest. */
  access?: NatsAccess;
  /** NATS URLs to use instead of the discovered ones (the gateway may see NATS at an
   * address its clients cannot reach). */
  servers?: string | string[];
  /** Wait for JetStream's ack of a publish, per attempt (default 5,000 ms). */
  ackTimeoutMs?: number;
  /** Attempts per JetStream publish; a retry carries the same `Nats-Msg-Id` (the
   * event id), so JetStream stores the event once (default 3). */
  ackAttempts?: number;
  /** The connection's name, shown in NATS's monitoring (default `ragbus-ts`). */
  name?: string;
  /** Further nats.js connection options (reconnect, TLS...); `token`, `servers` and
   * `inboxPrefix` are ragbus's. */
  connectOptions?: Omit<ConnectionOptions, "token" | "servers" | "inboxPrefix">;
  /** The `fetch` for `GET /v1/nats` (default: the global one). */
  fetch?: typeof globalThis.fetch;
}

/** A document to submit over NATS: the text itself travels in the event. */
export interface NatsUpload {
  /** The file name; its extension picks the parser (`.md`, `.txt`, `.html`). */
  filename: string;
  /** The document's text, at most 256 KiB of UTF-8 (`MAX_INLINE_TEXT_BYTES`). */
  text: string;
  /** Your id for the document (a uuid; default a fresh one): follow it with it. */
  documentId?: string;
  /** Free-form JSON kept with the document. */
  metadata?: DocumentUploaded["metadata"];
  /** Your own key of the document. */
  externalId?: string;
  /** How ingest_svc cuts the text (default `token_window`). */
  chunking?: ChunkingStrategy;
}

/** JetStream stored the event: where, and under which ids. */
export interface Published {
  /** The event's `event_id` (also its `Nats-Msg-Id`). */
  eventId: string;
  /** The stream that stored it, e.g. `RAGBUS_DOCUMENTS`. */
  stream: string;
  /** Its sequence in that stream. */
  seq: number;
  /** True when JetStream had it already (a retried publish of the same event). */
  duplicate: boolean;
}

/** An upload JetStream stored. */
export interface UploadAccepted extends Published {
  documentId: string;
}

/** The retrieval and answer options of a question (all but the ids and the question). */
export type NatsAskOptions = Partial<
  Pick<
    QueryRequested,
    "filters" | "generation" | "group_by" | "min_score" | "mmr_lambda" | "mode" | "rerank" | "technique" | "user_id"
  >
> & {
  /** Passages to retrieve, 1-100 (default 5). */
  topK?: number;
  /** Your id for the query (a uuid; default a fresh one). */
  queryId?: string;
  /** Give up on the answer after this long (default 120,000 ms). */
  timeoutMs?: number;
  /** Stop waiting for the answer when aborted (the question stays asked). */
  signal?: AbortSignal;
};

/** Waiting for a document or an answer. */
export interface WaitOptions {
  /** Give up after this long (default 300,000 ms for documents). */
  timeoutMs?: number;
  /** Stop waiting when aborted. */
  signal?: AbortSignal;
}
