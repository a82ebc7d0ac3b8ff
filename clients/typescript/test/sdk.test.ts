/**
 * The SDK against a real `ragbus up` (test/stack.ts): the HTTP client here, the NATS
 * client in test/nats.ts, on the same stack. The build that runs these tests is the
 * type check: `tsc` fails on any misuse of the generated types.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";

import { type AnswerEvent, type Citation, type DocumentEvent, RagbusClient, RagbusError } from "../src/index.js";
import { describeNats } from "./nats.js";
import { useStack } from "./stack.js";

const BELLS = "# Bells\n\nThe bronze bell in the north tower rings at noon on Sundays.\n";
const stack = useStack();

/** Never called: each line must fail to compile, or `tsc` (and so the test) fails. */
export function misuses(client: RagbusClient): void {
  // @ts-expect-error top_k is a number
  void client.ask("why?", { top_k: "5" });
  // @ts-expect-error a conversation's visibility is private or tenant
  void client.createConversation({ visibility: "public" });
  const onDelta = (event: AnswerEvent): string => (event.event === "delta" ? event.data.text : "");
  // @ts-expect-error a delta's data has no citations
  void ((event: AnswerEvent) => event.event === "delta" && event.data.citations);
  void onDelta;
}

describe("ragbus SDK over HTTP against ragbus up", () => {
  let client: RagbusClient;
  let documentId = "";

  before(() => {
    client = new RagbusClient({ baseUrl: stack().baseUrl, apiKey: stack().apiKey });
  });

  test("uploads a file and follows it to indexed", async () => {
    const uploaded = await client.uploadFile(new TextEncoder().encode(BELLS), "bells.md", {
      metadata: { topic: "bells" },
    });
    assert.equal(uploaded.filename, "bells.md");
    documentId = uploaded.id;
    const events: DocumentEvent[] = [];
    for await (const event of client.followDocument(documentId)) events.push(event);
    assert.equal(events[0]?.event, "document");
    const last = events.at(-1);
    assert.ok(last?.event === "end" && last.data.status === "indexed", JSON.stringify(events));
    const stored = await client.document(documentId);
    assert.equal(stored.status, "indexed");
    assert.deepEqual(stored.metadata, { topic: "bells" });
    const { done = 0, total = 0 } = stored.progress ?? {};
    assert.ok(total > 0 && done === total, JSON.stringify(stored.progress));
    assert.ok((await client.documents()).some((d) => d.id === documentId));
  });

  test("asks with streaming and gets the answer's citations", async () => {
    const events: AnswerEvent[] = [];
    for await (const event of client.askStream("When does the bronze bell ring?", { top_k: 3 })) {
      events.push(event);
    }
    assert.equal(events[0]?.event, "query");
    const text = events.map((e) => (e.event === "delta" ? e.data.text : "")).join("");
    const cited = events.find((e) => e.event === "citations");
    const done = events.at(-1);
    assert.ok(cited?.event === "citations" && done?.event === "done", JSON.stringify(events));
    const citations: Citation[] = cited.data;
    assert.ok(citations.length > 0);
    assert.equal(citations[0]?.filename, "bells.md");
    assert.equal(citations[0]?.document_id, documentId);
    assert.ok(text.includes(`[${citations[0]?.n}]`) && text.includes("noon"), text);
    assert.equal(done.data.answer, text);
    assert.deepEqual(
      done.data.citations.map((c) => c.n),
      citations.map((c) => c.n),
    );
    assert.equal(done.data.found, true);
  });

  test("asks in a conversation and reads it back", async () => {
    const conversation = await client.createConversation({ title: "bells", visibility: "tenant" });
    const first = await client.ask("When does the bronze bell ring?", { conversation_id: conversation.id });
    await client.ask("And in which tower?", { conversation_id: conversation.id });
    const read = await client.conversation(conversation.id);
    assert.deepEqual(
      read.messages.map((m) => m.role),
      ["user", "assistant", "user", "assistant"],
    );
    assert.equal(read.messages[1]?.query_id, first.query_id);
    assert.ok((await client.conversations()).some((c) => c.id === conversation.id));
    await client.deleteConversation(conversation.id);
    await assert.rejects(client.conversation(conversation.id), (error: unknown) => {
      assert.ok(error instanceof RagbusError && error.status === 404);
      return true;
    });
  });

  test("a bad key is a RagbusError with status and code", async () => {
    const stranger = new RagbusClient({ baseUrl: stack().baseUrl, apiKey: `rbk_000000000000_${"x".repeat(43)}` });
    await assert.rejects(stranger.documents(), (error: unknown) => {
      assert.ok(error instanceof RagbusError);
      assert.equal(error.status, 401);
      assert.equal(error.code, "invalid_credentials");
      return true;
    });
  });
});

describeNats(stack);
