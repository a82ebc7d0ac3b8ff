/**
 * The HTTP half of the ragbus SDK: upload, follow a document's progress over SSE, ask
 * with streaming and citations, conversations. Every call carries
 * `Authorization: Bearer <apiKey>`; the tenant, principal and role are the key's.
 *
 * JSON routes go through openapi-fetch on the generated `paths`, so `client.api` is
 * also a typed client of every route (`client.api.GET("/v1/usage")`). Streams are
 * read with eventsource-parser.
 */
import createClient, { type Client } from "openapi-fetch";

import type { paths } from "../generated/openapi.js";
import { readEvents } from "./sse.js";
import {
  FINAL_STATUSES,
  type Answer,
  type AnswerEvent,
  type AskOptions,
  type Conversation,
  type ConversationOptions,
  type ConversationWithMessages,
  type Document,
  type DocumentEvent,
  type Retrieved,
  type UploadOptions,
  type UploadedDocument,
} from "./types.js";

/** What a client needs to reach ragbus. */
export interface ClientOptions {
  /** The gateway, e.g. `http://127.0.0.1:8000`. */
  baseUrl: string;
  /** A ragbus API key (`rbk_...`) or access token. */
  apiKey: string;
  /** The `fetch` to use (default: the global one). */
  fetch?: typeof globalThis.fetch;
}

/** A refusal or failure of the gateway: its HTTP status, ragbus's `code` and message. */
export class RagbusError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | null,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
    this.name = "RagbusError";
  }
}

/** The error of a refused response body (`{"detail", "code"}`, or OpenAI's `{"error"}`). */
export function errorFrom(status: number, body: unknown): RagbusError {
  const record = (body ?? {}) as { detail?: unknown; code?: unknown; error?: { message?: string; code?: string } };
  const code = typeof record.code === "string" ? record.code : (record.error?.code ?? null);
  const detail = record.error?.message ?? record.detail ?? body;
  const message = typeof detail === "string" ? detail : JSON.stringify(detail);
  return new RagbusError(status, code, `ragbus answered ${status}: ${message}`, body);
}

async function refused(response: Response): Promise<RagbusError> {
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return errorFrom(response.status, body);
}

function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.response.ok && result.data !== undefined) return result.data;
  throw errorFrom(result.response.status, result.error);
}

export class RagbusClient {
  /** A typed client of every route of the OpenAPI document, with the same key. */
  readonly api: Client<paths>;
  private readonly baseUrl: string;
  private readonly headers: Record<string, string>;
  private readonly fetchImpl: typeof globalThis.fetch;

  constructor(options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.headers = { Authorization: `Bearer ${options.apiKey}` };
    this.fetchImpl = options.fetch ?? globalThis.fetch;
    this.api = createClient<paths>({ baseUrl: this.baseUrl, headers: this.headers, fetch: this.fetchImpl });
  }

  /** Upload text as a document named `filename` (its extension picks the parser). */
  async uploadText(filename: string, text: string, options: UploadOptions = {}): Promise<UploadedDocument> {
    const response = await this.fetchImpl(`${this.baseUrl}/v1/documents`, {
      method: "POST",
      headers: { ...this.headers, "Content-Type": "application/json" },
      body: JSON.stringify({ ...options, filename, text }),
    });
    return this.firstUploaded(response);
  }

  /** Upload a file's bytes (PDF, DOCX, HTML, Markdown, text...) as `filename`. */
  async uploadFile(
    data: Blob | Uint8Array,
    filename: string,
    options: UploadOptions = {},
  ): Promise<UploadedDocument> {
    const form = new FormData();
    form.append("file", data instanceof Blob ? data : new Blob([data]), filename);
    if (options.metadata) form.append("metadata", JSON.stringify(options.metadata));
    if (options.external_id) form.append("external_id", options.external_id);
    if (options.chunking) form.append("chunking", options.chunking);
    const response = await this.fetchImpl(`${this.baseUrl}/v1/documents`, {
      method: "POST",
      headers: this.headers,
      body: form,
    });
    return this.firstUploaded(response);
  }

  private async firstUploaded(response: Response): Promise<UploadedDocument> {
    if (!response.ok) throw await refused(response);
    const body = (await response.json()) as { documents: UploadedDocument[] };
    const first = body.documents[0];
    if (!first) throw new RagbusError(response.status, null, "the upload made no document", body);
    return first;
  }

  /** One document with its status, error and progress. */
  async document(id: string): Promise<Document> {
    return unwrap(await this.api.GET("/v1/documents/{document_id}", { params: { path: { document_id: id } } }));
  }

  /** A page of the tenant's documents, newest first. */
  async documents(page: { limit?: number; offset?: number } = {}): Promise<Document[]> {
    return unwrap(await this.api.GET("/v1/documents", { params: { query: page } })).documents;
  }

  /** The document's events as they happen (`document`, `status`..., `end`). */
  async *followDocument(id: string, signal?: AbortSignal): AsyncGenerator<DocumentEvent> {
    const response = await this.fetchImpl(`${this.baseUrl}/v1/documents/${encodeURIComponent(id)}/events`, {
      headers: { ...this.headers, Accept: "text/event-stream" },
      signal: signal ?? null,
    });
    if (!response.ok) throw await refused(response);
    for await (const raw of readEvents(response)) {
      const event = { event: raw.event, data: JSON.parse(raw.data) } as DocumentEvent;
      yield event;
      if (event.event === "end") return;
    }
  }

  /** Follow the document until it is indexed, failed or deleted; returns it then. */
  async waitForDocument(id: string, signal?: AbortSignal): Promise<Document> {
    for await (const event of this.followDocument(id, signal)) {
      if (event.event !== "document" && (FINAL_STATUSES as readonly string[]).includes(event.data.status)) break;
    }
    return this.document(id);
  }

  /** The top-k passages for a question, without an answer. */
  async retrieve(question: string, options: Omit<AskOptions, "conversation_id" | "cache"> = {}): Promise<Retrieved> {
    return unwrap(await this.api.POST("/v1/retrieve", { body: { ...options, question } }));
  }

  /** The answer to `question` with its citations, as one JSON object. */
  async ask(question: string, options: AskOptions = {}): Promise<Answer> {
    const result = await this.api.POST("/v1/query", {
      body: { ...options, question, stream: false },
      headers: { Accept: "application/json" },
    });
    return unwrap(result) as Answer;
  }

  /** The answer as it is written: `query`, `delta`s, `citations`, then `done` (or `error`). */
  async *askStream(question: string, options: AskOptions = {}, signal?: AbortSignal): AsyncGenerator<AnswerEvent> {
    const response = await this.fetchImpl(`${this.baseUrl}/v1/query`, {
      method: "POST",
      headers: { ...this.headers, "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({ ...options, question, stream: true }),
      signal: signal ?? null,
    });
    if (!response.ok) throw await refused(response);
    for await (const raw of readEvents(response)) {
      const event = { event: raw.event, data: JSON.parse(raw.data) } as AnswerEvent;
      yield event;
      if (event.event === "done" || event.event === "error") return;
    }
  }

  /** Start a conversation; ask in it with `ask(question, { conversation_id })`. */
  async createConversation(options: ConversationOptions = {}): Promise<Conversation> {
    return unwrap(await this.api.POST("/v1/conversations", { body: options }));
  }

  /** The conversations the key's principal may see, most recently used first. */
  async conversations(limit = 50): Promise<Conversation[]> {
    return unwrap(await this.api.GET("/v1/conversations", { params: { query: { limit } } })).conversations;
  }

  /** A conversation and its messages, oldest first, with citations. */
  async conversation(id: string): Promise<ConversationWithMessages> {
    return unwrap(
      await this.api.GET("/v1/conversations/{conversation_id}", { params: { path: { conversation_id: id } } }),
    );
  }

  /** Delete a conversation and its turns (its creator only). */
  async deleteConversation(id: string): Promise<void> {
    const { response, error } = await this.api.DELETE("/v1/conversations/{conversation_id}", {
      params: { path: { conversation_id: id } },
    });
    if (!response.ok) throw errorFrom(response.status, error);
  }
}
