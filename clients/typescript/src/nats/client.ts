/**
 * The NATS half of the ragbus SDK, on the official nats.js v3 packages
 * (`@nats-io/transport-node`, `@nats-io/jetstream`).
 *
 * A tenant's client connects with one of its tenant's API keys as the NATS token and
 * the inbox prefix `_INBOX.<tenant token>` (docs/events.md, "Connecting"); NATS holds
 * it to its tenant's subjects. `RagbusNats.connect` learns the servers, the prefix and
 * the subjects from the gateway's `GET /v1/nats` (or takes them), then:
 *
 * - `upload` publishes `document.uploaded.<tenant>` to JetStream and resolves on the
 *   stream's ack; `followDocument` / `waitIndexed` read `document.status|indexed|
 *   failed|deleted.<tenant>` for that document;
 * - `ask` publishes `query.requested.<tenant>` to JetStream and yields the query's
 *   `answer.delta.<tenant>.<query_id>`, with `answer.ready` (or `answer.failed`) as
 *   a promise;
 * - `events(family)` is any received family, typed by the generated `RagbusEvents`.
 */
import { randomUUID } from "node:crypto";

import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import { connect, type Msg, type NatsConnection, type Subscription } from "@nats-io/transport-node";

import type {
  AnswerDelta,
  AnswerFailed,
  AnswerReady,
  DocumentIndexed,
  DocumentUploaded,
  QueryRequested,
  RagbusEvents,
} from "../generated/events.js";
import { RagbusClient, errorFrom } from "../http/client.js";
import { Channel } from "./channel.js";
import { AnswerFailedError, DocumentFailedError, RagbusNatsError, fromNats } from "./errors.js";
import type {
  ClientFamily,
  DocumentFamily,
  NatsAccess,
  NatsAskOptions,
  NatsClientOptions,
  NatsDocumentEvent,
  NatsUpload,
  PublishedFamily,
  Published,
  ReceivedFamily,
  UploadAccepted,
  WaitOptions,
} from "./types.js";

/** The most UTF-8 bytes of `inline_text` an upload over NATS carries (256 KiB, as
 * `schemas.documents.MAX_INLINE_TEXT_BYTES`); larger documents go over HTTP. */
export const MAX_INLINE_TEXT_BYTES = 256 * 1024;
/** The longest question (`QueryRequested.question`, characters). */
export const MAX_QUESTION_CHARS = 8192;
/** The longest file name (`DocumentUploaded.filename`, characters). */
export const MAX_FILENAME_CHARS = 512;

const DEFAULT_ACK_TIMEOUT_MS = 5_000;
const DEFAULT_ACK_ATTEMPTS = 3;
const DEFAULT_ANSWER_TIMEOUT_MS = 120_000;
const DEFAULT_INDEX_TIMEOUT_MS = 300_000;
/** Documents uploaded here whose final event came before anyone waited for it. */
const MAX_SETTLED_DOCUMENTS = 1_000;
/** Events kept per document until someone follows it (the oldest progress goes first). */
const MAX_DOCUMENT_HISTORY = 256;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOCUMENT_FAMILIES: readonly DocumentFamily[] = [
  "document.status",
  "document.indexed",
  "document.failed",
  "document.deleted",
];
const FINAL_FAMILIES: ReadonlySet<DocumentFamily> = new Set([
  "document.indexed",
  "document.failed",
  "document.deleted",
]);

/** A tenant id as one NATS subject token: `.` is written `~` (`acme.eu` → `acme~eu`). */
export function tenantToken(tenant: string): string {
  return tenant.replaceAll(".", "~");
}

/** The access of `tenant` at `servers` without asking the gateway: its inbox prefix
 * and the subject of every family a client sees. */
export function tenantAccess(tenant: string, servers: string | string[]): NatsAccess {
  const token = tenantToken(tenant);
  const families: ClientFamily[] = [
    "document.uploaded",
    "document.status",
    "document.indexed",
    "document.failed",
    "document.deleted",
    "query.requested",
    "answer.ready",
    "answer.failed",
  ];
  const subjects: NatsAccess["subjects"] = Object.fromEntries(families.map((f) => [f, `${f}.${token}`]));
  subjects["answer.delta"] = `answer.delta.${token}.<query_id>`;
  return {
    servers: typeof servers === "string" ? [servers] : servers,
    tenant,
    inbox_prefix: `_INBOX.${token}`,
    subjects,
  };
}

/** `GET /v1/nats`: where and how the key's tenant connects, and its subjects.
 *
 * @throws RagbusError when the gateway refuses (401 bad key; 404
 *   `nats_clients_disabled` when the deployment lets no client onto NATS). */
export async function discoverNats(options: {
  gatewayUrl: string;
  apiKey: string;
  fetch?: typeof globalThis.fetch;
}): Promise<NatsAccess> {
  const http = new RagbusClient({ baseUrl: options.gatewayUrl, apiKey: options.apiKey, ...pick(options, "fetch") });
  let result;
  try {
    result = await http.api.GET("/v1/nats");
  } catch (error) {
    throw new Error(`could not reach the gateway at ${options.gatewayUrl} for GET /v1/nats: ${String(error)}`, {
      cause: error,
    });
  }
  if (!result.response.ok || !result.data) throw errorFrom(result.response.status, result.error);
  return checkAccess(result.data, "GET /v1/nats");
}

function pick<T extends object, K extends keyof T>(value: T, key: K): Partial<Pick<T, K>> {
  return value[key] === undefined ? {} : ({ [key]: value[key] } as Pick<T, K>);
}

function checkAccess(data: unknown, where: string): NatsAccess {
  const record = (data ?? {}) as Record<string, unknown>;
  const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === "string");
  if (!strings(record.servers) || record.servers.length === 0) throw new TypeError(`${where}: no "servers"`);
  if (typeof record.tenant !== "string" || !record.tenant) throw new TypeError(`${where}: no "tenant"`);
  const defaults = tenantAccess(record.tenant, record.servers);
  const subjects = (record.subjects ?? {}) as Record<string, unknown>;
  for (const [family, subject] of Object.entries(subjects)) {
    if (typeof subject !== "string") throw new TypeError(`${where}: subject of ${family} is not a string`);
  }
  return {
    ...defaults,
    ...(record as Partial<NatsAccess>),
    inbox_prefix: typeof record.inbox_prefix === "string" ? record.inbox_prefix : defaults.inbox_prefix,
    subjects: { ...defaults.subjects, ...(subjects as NatsAccess["subjects"]) },
  };
}

function invalid(message: string): RagbusNatsError {
  return new RagbusNatsError("invalid_input", message);
}

function checkUuid(value: unknown, name: string): string {
  if (typeof value !== "string" || !UUID.test(value)) {
    throw invalid(`${name} must be a uuid such as ${randomUUID()}, not ${JSON.stringify(value)}`);
  }
  return value;
}

function checkTimeout(value: number | undefined, fallback: number, name: string): number {
  const ms = value ?? fallback;
  if (!Number.isFinite(ms) || ms <= 0) throw invalid(`${name} must be a positive number of milliseconds`);
  return ms;
}

/** An event as this client sends it: with its envelope filled in. */
type Sent<T> = T & ReturnType<typeof envelope>;

/** The envelope of an event this client publishes (schema_version 2). */
function envelope(tenant: string): { event_id: string; tenant_id: string; occurred_at: string; schema_version: 2 } {
  return { event_id: randomUUID(), tenant_id: tenant, occurred_at: new Date().toISOString(), schema_version: 2 };
}

/** A question in flight: its streamed pieces and its final answer. Iterate it for the
 * `answer.delta` events (in `seq` order; a piece sent again after a redelivery is
 * skipped), which end when `answer.ready` arrives; `answer` resolves with that event,
 * or rejects with `AnswerFailedError` (`answer.failed`) or a `RagbusNatsError`
 * (`timeout`, `aborted`, `closed`). The answer's text is `answer.answer`: the deltas
 * are its preview. */
export interface AnswerStream extends AsyncIterable<AnswerDelta> {
  readonly queryId: string;
  /** JetStream stored the question (`RAGBUS_QUERIES`). */
  readonly accepted: Published;
  readonly answer: Promise<AnswerReady>;
}

interface PendingAnswer {
  resolve(ready: AnswerReady): void;
  reject(error: unknown): void;
}

interface DocumentWatch {
  history: NatsDocumentEvent[];
  final: boolean;
  /** Uploaded here: kept until its outcome is read (or evicted, oldest first). */
  keep: boolean;
  followers: Set<Channel<NatsDocumentEvent>>;
}

export class RagbusNats {
  private readonly js: JetStreamClient;
  private readonly ackTimeoutMs: number;
  private readonly ackAttempts: number;
  private readonly answers = new Map<string, PendingAnswer>();
  private readonly documents = new Map<string, DocumentWatch>();
  private readonly settled: string[] = [];
  private readonly streams = new Set<Channel<unknown>>();
  private answerSubscriptions: Promise<void> | undefined;
  private documentSubscriptions: Promise<void> | undefined;
  private shutDown: Error | undefined;

  private constructor(
    /** The nats.js connection, for anything this class does not wrap. */
    readonly connection: NatsConnection,
    /** Where and how this client connected, and its tenant's subjects. */
    readonly access: NatsAccess,
    options: NatsClientOptions,
  ) {
    this.js = jetstream(connection);
    this.ackTimeoutMs = checkTimeout(options.ackTimeoutMs, DEFAULT_ACK_TIMEOUT_MS, "ackTimeoutMs");
    this.ackAttempts = Math.max(1, Math.floor(options.ackAttempts ?? DEFAULT_ACK_ATTEMPTS));
    void connection.closed().then((error) => {
      this.stop(new RagbusNatsError("closed", `the NATS connection closed${error ? `: ${error.message}` : ""}`));
    });
  }

  /**
   * Connect to ragbus's NATS as the key's tenant: `gatewayUrl` (asks `GET /v1/nats`)
   * or `access` says where.
   *
   * @throws RagbusNatsError `invalid_input` without either, `unauthorized` when NATS
   *   refuses the key; RagbusError when the gateway does.
   */
  static async connect(options: NatsClientOptions): Promise<RagbusNats> {
    if (typeof options.apiKey !== "string" || !options.apiKey) throw invalid("apiKey is required (an rbk_ API key)");
    let access: NatsAccess;
    if (options.access) access = checkAccess(options.access, "options.access");
    else if (options.gatewayUrl) access = await discoverNats({ ...options, gatewayUrl: options.gatewayUrl });
    else throw invalid("give gatewayUrl (to ask GET /v1/nats) or access (servers and tenant)");
    const servers = options.servers ?? access.servers;
    let nc: NatsConnection;
    try {
      nc = await connect({
        name: options.name ?? "ragbus-ts",
        ...options.connectOptions,
        servers,
        token: options.apiKey,
        inboxPrefix: access.inbox_prefix,
      });
    } catch (error) {
      throw fromNats(error, `connecting to NATS at ${String(servers)} as tenant ${access.tenant}`);
    }
    return new RagbusNats(nc, access, options);
  }

  /** The tenant this client acts for (its events' `tenant_id`). */
  get tenant(): string {
    return this.access.tenant;
  }

  /** The tenant's subject of `family`; `answer.delta`'s needs the query id. */
  subject(family: ClientFamily, queryId?: string): string {
    const template = this.access.subjects[family] ?? tenantAccess(this.tenant, this.access.servers).subjects[family];
    if (!template) throw invalid(`no subject for ${family}`);
    if (family !== "answer.delta") return template;
    return template.replace("<query_id>", checkUuid(queryId, "queryId"));
  }

  /**
   * Submit a document over NATS: publish `document.uploaded.<tenant>` with the text
   * inline and wait for JetStream's ack. Then follow it with `waitIndexed(documentId)`
   * or `followDocument(documentId)`.
   *
   * @throws RagbusNatsError `invalid_input` (checked before anything is sent: text over
   *   256 KiB of UTF-8, a bad file name or id), `permission_denied` (a reader key),
   *   `timeout` (no ack after every attempt).
   */
  async upload(upload: NatsUpload): Promise<UploadAccepted> {
    const { filename, text } = upload ?? ({} as NatsUpload);
    if (typeof filename !== "string" || filename.length < 1 || filename.length > MAX_FILENAME_CHARS) {
      throw invalid(`filename must be 1-${MAX_FILENAME_CHARS} characters`);
    }
    if (typeof text !== "string" || text.length === 0) throw invalid("text must be a non-empty string");
    const bytes = Buffer.byteLength(text, "utf8");
    if (bytes > MAX_INLINE_TEXT_BYTES) {
      throw invalid(
        `text is ${bytes} bytes of UTF-8; an upload over NATS carries at most ${MAX_INLINE_TEXT_BYTES} ` +
          "(256 KiB, MAX_INLINE_TEXT_BYTES): upload larger documents over HTTP (RagbusClient.uploadText or uploadFile)",
      );
    }
    const documentId = upload.documentId === undefined ? randomUUID() : checkUuid(upload.documentId, "documentId");
    const event: Sent<DocumentUploaded> = {
      ...envelope(this.tenant),
      document_id: documentId,
      filename,
      inline_text: text,
      ...(upload.metadata === undefined ? {} : { metadata: upload.metadata }),
      ...(upload.externalId === undefined ? {} : { external_id: upload.externalId }),
      ...(upload.chunking === undefined ? {} : { chunking: upload.chunking }),
    };
    // Listen before publishing, so that even a fast `indexed` is seen.
    await this.listenToDocuments();
    if (this.documents.get(documentId)?.final) this.documents.delete(documentId); // uploaded again
    const watch = this.watch(documentId);
    const wasKept = watch.keep;
    watch.keep = true;
    try {
      return { documentId, ...(await this.publish("document.uploaded", event, `uploading ${filename}`)) };
    } catch (error) {
      watch.keep = wasKept;
      this.forget(documentId);
      throw error;
    }
  }

  /**
   * The document's events from now on (for a document uploaded by this client: from
   * its upload), until `document.indexed`, `document.failed` or `document.deleted`.
   */
  async *followDocument(documentId: string, options: WaitOptions = {}): AsyncGenerator<NatsDocumentEvent> {
    checkUuid(documentId, "documentId");
    const timeoutMs = options.timeoutMs === undefined ? undefined : checkTimeout(options.timeoutMs, 0, "timeoutMs");
    await this.listenToDocuments();
    const watch = this.watch(documentId);
    const channel: Channel<NatsDocumentEvent> = new Channel(() => watch.followers.delete(channel));
    for (const event of watch.history) channel.push(event);
    if (watch.final) channel.end();
    else watch.followers.add(channel);
    const stopWaiting = this.limit(channel, options.signal, timeoutMs, `document ${documentId}`);
    let finished = false;
    try {
      for await (const event of channel) {
        if (FINAL_FAMILIES.has(event.family)) finished = true;
        yield event;
      }
    } finally {
      stopWaiting();
      void channel.return();
      if (finished || (!watch.keep && watch.followers.size === 0)) this.forget(documentId);
    }
  }

  /**
   * Wait until the document is indexed.
   *
   * @returns its `document.indexed` event.
   * @throws DocumentFailedError on `document.failed` (with ragbus's `code`) or
   *   `document.deleted`; RagbusNatsError `timeout` (default 300 s) or `aborted`.
   */
  async waitIndexed(documentId: string, options: WaitOptions = {}): Promise<DocumentIndexed> {
    const timeoutMs = checkTimeout(options.timeoutMs, DEFAULT_INDEX_TIMEOUT_MS, "timeoutMs");
    for await (const { family, event } of this.followDocument(documentId, { ...options, timeoutMs })) {
      if (family === "document.indexed") return event;
      if (family === "document.failed" || family === "document.deleted") throw new DocumentFailedError(event);
    }
    throw new RagbusNatsError("closed", `stopped following document ${documentId} before it was indexed`);
  }

  /**
   * Ask over NATS: publish `query.requested.<tenant>` and wait for JetStream's ack.
   * The returned stream yields the answer's deltas; its `answer` is the final
   * `answer.ready` (see `AnswerStream`).
   *
   * @throws RagbusNatsError `invalid_input` (an empty or too long question, `topK`
   *   outside 1-100), `permission_denied`, `timeout` (no ack).
   */
  async ask(question: string, options: NatsAskOptions = {}): Promise<AnswerStream> {
    if (typeof question !== "string" || question.trim().length === 0 || question.length > MAX_QUESTION_CHARS) {
      throw invalid(`question must be 1-${MAX_QUESTION_CHARS} characters, not only spaces`);
    }
    const { topK, queryId: chosen, timeoutMs: wait, signal, ...retrieval } = options;
    if (topK !== undefined && (!Number.isInteger(topK) || topK < 1 || topK > 100)) {
      throw invalid(`topK must be an integer from 1 to 100, not ${JSON.stringify(topK)}`);
    }
    const queryId = chosen === undefined ? randomUUID() : checkUuid(chosen, "queryId");
    const timeoutMs = checkTimeout(wait, DEFAULT_ANSWER_TIMEOUT_MS, "timeoutMs");
    if (this.answers.has(queryId)) throw invalid(`query ${queryId} is already being answered here`);
    await this.listenToAnswers();

    let nextSeq = 0;
    let deltaSubscription: Subscription | undefined;
    let stopWaiting = (): void => undefined;
    const deltas = new Channel<AnswerDelta>(() => deltaSubscription?.unsubscribe());
    const done = (): void => {
      stopWaiting();
      this.answers.delete(queryId);
    };
    let settle!: PendingAnswer;
    const answer = new Promise<AnswerReady>((resolve, reject) => {
      settle = {
        resolve: (ready) => {
          done();
          deltas.end();
          resolve(ready);
        },
        reject: (error) => {
          done();
          deltas.end(error);
          reject(error);
        },
      };
    });
    answer.catch(() => undefined); // a caller who reads only the deltas gets the error there
    stopWaiting = this.limit(settle, signal, timeoutMs, `the answer to query ${queryId}`);
    this.answers.set(queryId, settle);
    deltaSubscription = this.connection.subscribe(this.subject("answer.delta", queryId), {
      callback: (error, msg) => {
        if (error) return settle.reject(fromNats(error, `streaming the answer to query ${queryId}`));
        const delta = decode<AnswerDelta>(msg);
        if (delta && delta.seq >= nextSeq) {
          nextSeq = delta.seq + 1;
          deltas.push(delta);
        }
      },
    });
    const event: Sent<QueryRequested> = {
      ...envelope(this.tenant),
      ...retrieval,
      query_id: queryId,
      question,
      ...(topK === undefined ? {} : { top_k: topK }),
    };
    let accepted: Published;
    try {
      accepted = await this.publish("query.requested", event, `asking query ${queryId}`);
    } catch (error) {
      settle.reject(error);
      throw error;
    }
    return { queryId, accepted, answer, [Symbol.asyncIterator]: () => deltas };
  }

  /**
   * Every event of a received family for the tenant, typed by the family, until the
   * loop stops (`break`) or the client closes. `answer.delta` needs the query id.
   */
  events<F extends ReceivedFamily>(
    family: F,
    ...[options]: F extends "answer.delta" ? [options: { queryId: string }] : [options?: { queryId?: never }]
  ): AsyncIterableIterator<RagbusEvents[F]> {
    if (this.shutDown) throw this.shutDown;
    const subject = this.subject(family, options?.queryId);
    let subscription: Subscription | undefined;
    const channel = new Channel<RagbusEvents[F]>(() => {
      subscription?.unsubscribe();
      this.streams.delete(channel as Channel<unknown>);
    });
    this.streams.add(channel as Channel<unknown>);
    subscription = this.connection.subscribe(subject, {
      callback: (error, msg) => {
        if (error) return channel.end(fromNats(error, `listening to ${subject}`));
        const event = decode<RagbusEvents[F]>(msg);
        if (event) channel.push(event);
      },
    });
    return channel;
  }

  /** Close the connection: `events` and `followDocument` loops end, and whatever
   * still waits for an outcome (`ask`'s answer, `waitIndexed`) rejects with `closed`. */
  async close(): Promise<void> {
    this.stop(new RagbusNatsError("closed", "the ragbus NATS client was closed"), true);
    if (!this.connection.isClosed()) await this.connection.close();
  }

  private async publish<F extends PublishedFamily>(
    family: F,
    event: Sent<RagbusEvents[F]>,
    doing: string,
  ): Promise<Published> {
    if (this.shutDown) throw this.shutDown;
    const subject = this.subject(family);
    try {
      const ack = await this.js.publish(subject, JSON.stringify(event), {
        msgID: event.event_id,
        timeout: this.ackTimeoutMs,
        retries: this.ackAttempts,
      });
      return { eventId: event.event_id, stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
    } catch (error) {
      const failure = fromNats(error, doing);
      if (failure instanceof RagbusNatsError && failure.code === "timeout") {
        throw new RagbusNatsError(
          "timeout",
          `${doing}: JetStream did not ack ${subject} within ${this.ackTimeoutMs} ms ` +
            `(${this.ackAttempts} attempt${this.ackAttempts === 1 ? "" : "s"})`,
          { cause: error },
        );
      }
      throw failure;
    }
  }

  /** Reject `target` after `timeoutMs` or when `signal` aborts; returns the undo. */
  private limit(
    target: { end(error: unknown): void } | PendingAnswer,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    what: string,
  ): () => void {
    const fail = (error: RagbusNatsError): void => ("reject" in target ? target.reject(error) : target.end(error));
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(
            () => fail(new RagbusNatsError("timeout", `no final event for ${what} within ${timeoutMs} ms`)),
            timeoutMs,
          );
    const onAbort = (): void => fail(new RagbusNatsError("aborted", `stopped waiting for ${what}: aborted`));
    if (signal?.aborted) queueMicrotask(onAbort);
    else signal?.addEventListener("abort", onAbort, { once: true });
    return () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
  }

  /** One subscription each to `answer.ready` and `answer.failed`, shared by every ask. */
  private listenToAnswers(): Promise<void> {
    this.answerSubscriptions ??= this.listen(
      ["answer.ready", "answer.failed"],
      (family, msg) => {
        const event = decode<AnswerReady | AnswerFailed>(msg);
        const pending = event && this.answers.get(event.query_id);
        if (!pending) return;
        if (family === "answer.ready") pending.resolve(event as AnswerReady);
        else pending.reject(new AnswerFailedError(event as AnswerFailed));
      },
      (error) => {
        this.answerSubscriptions = undefined; // the next ask subscribes again
        for (const pending of [...this.answers.values()]) pending.reject(error);
      },
    );
    return this.answerSubscriptions;
  }

  /** One subscription to each document family, shared by every upload and follower. */
  private listenToDocuments(): Promise<void> {
    this.documentSubscriptions ??= this.listen(
      DOCUMENT_FAMILIES,
      (family, msg) => {
        const event = decode<RagbusEvents[DocumentFamily]>(msg);
        const watch = event && this.documents.get(event.document_id);
        if (!watch || watch.final) return;
        const entry = { family, event } as NatsDocumentEvent;
        watch.history.push(entry);
        if (watch.history.length > MAX_DOCUMENT_HISTORY) {
          const oldest = watch.history.findIndex((e) => e.family === "document.status");
          watch.history.splice(oldest === -1 ? 0 : oldest, 1);
        }
        for (const follower of watch.followers) follower.push(entry);
        if (FINAL_FAMILIES.has(family as DocumentFamily)) {
          watch.final = true;
          for (const follower of [...watch.followers]) follower.end();
          if (watch.keep) this.settle(event.document_id);
        }
      },
      (error) => {
        this.documentSubscriptions = undefined; // the next upload or follower subscribes again
        for (const watch of this.documents.values()) for (const follower of [...watch.followers]) follower.end(error);
      },
    );
    return this.documentSubscriptions;
  }

  private async listen<F extends ReceivedFamily>(
    families: readonly F[],
    onMessage: (family: F, msg: Msg) => void,
    onError: (error: Error) => void,
  ): Promise<void> {
    if (this.shutDown) throw this.shutDown;
    const subscriptions: Subscription[] = [];
    for (const family of families) {
      const subscription = this.connection.subscribe(this.subject(family), {
        callback: (error, msg) => {
          if (!error) return onMessage(family, msg);
          // One refused: drop the group, so that the next call subscribes it afresh.
          for (const other of subscriptions) other.unsubscribe();
          onError(fromNats(error, `listening to ${family}`));
        },
      });
      subscriptions.push(subscription);
    }
    await this.connection.flush(); // the server has them (or refused them) from here on
  }

  private watch(documentId: string): DocumentWatch {
    let watch = this.documents.get(documentId);
    if (!watch) {
      watch = { history: [], final: false, keep: false, followers: new Set() };
      this.documents.set(documentId, watch);
    }
    return watch;
  }

  /** An uploaded document's outcome arrived unread: keep it, up to a bound. */
  private settle(documentId: string): void {
    this.settled.push(documentId);
    while (this.settled.length > MAX_SETTLED_DOCUMENTS) {
      const oldest = this.settled.shift();
      if (oldest !== undefined && this.documents.get(oldest)?.followers.size === 0) this.documents.delete(oldest);
    }
  }

  private forget(documentId: string): void {
    const watch = this.documents.get(documentId);
    if (watch && watch.followers.size === 0) this.documents.delete(documentId);
  }

  /** No more events: waits reject with `error`; loops end quietly when `closedHere`
   * (the caller closed the client), else throw it too. */
  private stop(error: Error, closedHere = false): void {
    if (this.shutDown) return;
    this.shutDown = error;
    const loopError = closedHere ? undefined : error;
    for (const pending of [...this.answers.values()]) pending.reject(error);
    for (const watch of this.documents.values()) {
      for (const follower of [...watch.followers]) follower.end(loopError);
    }
    for (const stream of [...this.streams]) stream.end(loopError);
  }
}

/** A message's JSON payload, or undefined when it is not JSON (never thrown from a
 * NATS callback). */
function decode<T>(msg: Msg): T | undefined {
  try {
    return msg.json<T>();
  } catch {
    return undefined;
  }
}
