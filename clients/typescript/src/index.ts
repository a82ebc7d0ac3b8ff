/**
 * ragbus for TypeScript. The HTTP client is `RagbusClient` (./http); the event types
 * generated from schemas/jsonschema are under `events` (also `@ragbus/client/events`),
 * with `RagbusEvents` mapping each subject family to its payload. The NATS client,
 * `RagbusNats`, is `@ragbus/client/nats` only: it needs Node's sockets, which this
 * entry point (fetch and web streams only) does not.
 */
export * from "./http/index.js";
export type * as events from "./generated/events.js";
export type { paths, components } from "./generated/openapi.js";
