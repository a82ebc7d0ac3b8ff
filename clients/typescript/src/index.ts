/**
 * ragbus for TypeScript. The HTTP client is `RagbusClient` (./http); the event types
 * generated from schemas/jsonschema are under `events` (also `@ragbus/client/events`),
 * with `RagbusEvents` mapping each subject family to its payload, ready for a NATS
 * client (not part of this package yet).
 */
export * from "./http/index.js";
export type * as events from "./generated/events.js";
export type { paths, components } from "./generated/openapi.js";
