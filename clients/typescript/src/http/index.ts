export { RagbusClient, RagbusError, errorFrom, type ClientOptions } from "./client.js";
export { readEvents, type RawEvent } from "./sse.js";
export * from "./types.js";
