/**
 * The HTTP API's types, taken from the generated OpenAPI and event types (never written
 * out here): responses are `components["schemas"]`, request bodies the routes' own
 * bodies, and the Server-Sent Events are the gateway's event payloads (docs/api.md).
 */
import type { AnswerDelta, AnswerFailed, Citation, DocumentStatusChanged } from "../generated/events.js";
import type { components, paths } from "../generated/openapi.js";

type Schemas = components["schemas"];
type TextUpload = NonNullable<paths["/v1/documents"]["post"]["requestBody"]>["content"]["application/json"];

/** A document as `GET /v1/documents/{id}` returns it. */
export type Document = Schemas["Document"];
/** One entry of `POST /v1/documents`' reply. */
export type UploadedDocument = Schemas["UploadedDocument"];
/** `POST /v1/query` as JSON, and the `done` event of its stream. */
export type Answer = Schemas["Answer"];
/** `POST /v1/retrieve`. */
export type Retrieved = Schemas["Retrieved"];
/** A query in the history (`GET /v1/queries/{id}`). */
export type QueryRecord = Schemas["QueryRecord"];
/** A conversation, without or with its messages. */
export type Conversation = Schemas["Conversation"];
export type ConversationWithMessages = Schemas["ConversationWithMessages"];
/** The retrieval and answer options of `POST /v1/query` (all but the question). */
export type AskOptions = Omit<Schemas["QueryBody"], "question" | "stream">;
/** The options of a text upload (all but the file name and text). */
export type UploadOptions = Pick<TextUpload, "metadata" | "external_id" | "chunking">;
/** `POST /v1/conversations`' body. */
export type ConversationOptions = Schemas["ConversationBody"];
export type { Citation };

/** The Server-Sent Events of `POST /v1/query` with `stream: true`, in order:
 * `query` once, `delta` per piece (SSE id = `seq`), `citations`, then `done` or `error`. */
export type AnswerEvent =
  | { event: "query"; data: { query_id: string } }
  | { event: "delta"; data: Pick<AnswerDelta, "seq" | "text"> }
  | { event: "citations"; data: Citation[] }
  | { event: "done"; data: Answer }
  | { event: "error"; data: Pick<AnswerFailed, "code" | "error"> };

/** The Server-Sent Events of `GET /v1/documents/{id}/events`: the stored `document`,
 * then a `status` per change, then `end` once it is indexed, failed or deleted. */
export type DocumentEvent =
  | { event: "document"; data: Document }
  | {
      event: "status";
      data: { id: string; occurred_at?: string | null } & Pick<
        DocumentStatusChanged,
        "status" | "progress" | "error"
      >;
    }
  | { event: "end"; data: { id: string } & Pick<DocumentStatusChanged, "status"> };

/** A final document status: it will not change again on its own. */
export const FINAL_STATUSES = ["indexed", "failed", "deleted"] as const;
