export {
  MAX_FILENAME_CHARS,
  MAX_INLINE_TEXT_BYTES,
  MAX_QUESTION_CHARS,
  RagbusNats,
  discoverNats,
  tenantAccess,
  tenantToken,
  type AnswerStream,
} from "./client.js";
export { AnswerFailedError, DocumentFailedError, RagbusNatsError, type NatsErrorCode } from "./errors.js";
export type * from "./types.js";
export type { RagbusEvents } from "../generated/events.js";
