/** Server-Sent Events read from a fetch `Response`, parsed by eventsource-parser. */
import { EventSourceParserStream } from "eventsource-parser/stream";

/** One event as sent: its name (`message` when unnamed), data and id. */
export interface RawEvent {
  event: string;
  data: string;
  id?: string | undefined;
}

/**
 * Yield the events of `response` (a `text/event-stream` body) until it ends.
 *
 * @throws TypeError when the response has no body.
 */
export async function* readEvents(response: Response): AsyncGenerator<RawEvent> {
  if (!response.body) throw new TypeError("the response has no body to read events from");
  const events = response.body
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new EventSourceParserStream());
  const reader = events.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield { event: value.event ?? "message", data: value.data, id: value.id };
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
