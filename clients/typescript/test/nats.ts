/**
 * The NATS client against the same `ragbus up` as the HTTP tests: it learns its
 * servers and subjects from `GET /v1/nats`, connects with the tenant's API key,
 * uploads over JetStream, waits for `document.indexed`, asks and streams the answer's
 * deltas, and gets the cited `answer.ready`; a reader key is refused an upload (a
 * clear rejection, not a hang). Every event is typed by the generated `RagbusEvents`,
 * which `tsc` checks (see `natsMisuses` and the type assertions).
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";

import type { AnswerDelta, AnswerReady, Citation, DocumentIndexed, RagbusEvents } from "../src/generated/events.js";
import { RagbusClient } from "../src/http/index.js";
import {
  type AnswerStream,
  MAX_INLINE_TEXT_BYTES,
  type NatsDocumentEvent,
  RagbusNats,
  RagbusNatsError,
} from "../src/nats/index.js";
import type { Stack } from "./stack.js";

const ZEBRAS = `# Zebra husbandry notes

Zebras at the Okavango sanctuary are fed lucerne hay twice a day, at 07:00 and 16:00.
Each adult zebra receives nine kilograms of hay per day during the dry season.

## Hoof care

A farrier trims the zebras' hooves every ten weeks while they are sedated.
`;

type Equal<A, B> = (<G>() => G extends A ? 1 : 2) extends <G>() => G extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;
/** The answer, the deltas and the typed subscriptions are exactly the generated events. */
export type NatsTypes = [
  Expect<Equal<Awaited<AnswerStream["answer"]>, RagbusEvents["answer.ready"]>>,
  Expect<Equal<AnswerStream extends AsyncIterable<infer D> ? D : never, RagbusEvents["answer.delta"]>>,
  Expect<
    Equal<
      ReturnType<RagbusNats["events"]> extends AsyncIterable<infer E> ? E : never,
      RagbusEvents[
        | "document.status"
        | "document.indexed"
        | "document.failed"
        | "document.deleted"
        | "answer.ready"
        | "answer.failed"
        | "answer.delta"]
    >
  >,
  Expect<Equal<Awaited<ReturnType<RagbusNats["waitIndexed"]>>, RagbusEvents["document.indexed"]>>,
];

/** Never called: each line must fail to compile, or `tsc` (and so the test) fails. */
export async function natsMisuses(nats: RagbusNats): Promise<void> {
  // @ts-expect-error topK is a number
  await nats.ask("why?", { topK: "5" });
  // @ts-expect-error an upload carries its text
  await nats.upload({ filename: "notes.md" });
  // @ts-expect-error retrieval modes are dense, sparse or hybrid
  await nats.ask("why?", { mode: "fuzzy" });
  const stream = await nats.ask("why?");
  for await (const delta of stream) {
    // @ts-expect-error a delta has no citations
    void delta.citations;
  }
  // @ts-expect-error answer.ready has no seq
  void (await stream.answer).seq;
  // @ts-expect-error answer.delta's subject needs the query id
  nats.events("answer.delta");
  // @ts-expect-error chunks.ready is internal: no client receives it
  nats.events("chunks.ready");
  for await (const event of nats.events("answer.failed")) {
    // @ts-expect-error a failure has no answer
    void event.answer;
  }
  for await (const { family, event } of nats.followDocument(randomUUID())) {
    if (family === "document.indexed") void (event.chunks satisfies number);
    // @ts-expect-error only document.indexed has chunks
    else void event.chunks;
  }
}

export function describeNats(stack: () => Stack): void {
  describe("ragbus SDK over NATS against ragbus up", () => {
    let nats: RagbusNats;
    let documentId = "";

    before(async () => {
      nats = await RagbusNats.connect({ gatewayUrl: stack().baseUrl, apiKey: stack().apiKey });
    });

    after(async () => {
      await nats?.close();
    });

    test("learns its tenant's servers and subjects from GET /v1/nats", () => {
      const { tenant, subjects, inbox_prefix, servers } = nats.access;
      assert.equal(subjects["document.uploaded"], `document.uploaded.${tenant}`);
      assert.equal(inbox_prefix, `_INBOX.${tenant}`);
      assert.ok(servers[0]?.startsWith("nats://"), String(servers));
      const queryId = randomUUID();
      assert.equal(nats.subject("answer.delta", queryId), `answer.delta.${tenant}.${queryId}`);
    });

    test("uploads over JetStream and waits for document.indexed", async () => {
      documentId = randomUUID();
      const accepted = await nats.upload({ filename: "zebras.md", text: ZEBRAS, documentId });
      assert.equal(accepted.documentId, documentId);
      assert.equal(accepted.stream, "RAGBUS_DOCUMENTS");
      assert.equal(accepted.duplicate, false);
      const indexed: DocumentIndexed = await nats.waitIndexed(documentId, { timeoutMs: 60_000 });
      assert.equal(indexed.document_id, documentId);
      assert.ok(indexed.chunks >= 1, JSON.stringify(indexed));
    });

    test("asks over NATS, streams the deltas and gets the cited answer", async () => {
      const readies = nats.events("answer.ready");
      const stream = await nats.ask("How much hay does an adult zebra get per day?", { topK: 3, timeoutMs: 60_000 });
      assert.equal(stream.accepted.stream, "RAGBUS_QUERIES");
      const deltas: AnswerDelta[] = [];
      for await (const delta of stream) deltas.push(delta);
      const answer: AnswerReady = await stream.answer;
      assert.equal(answer.query_id, stream.queryId);
      assert.equal(answer.found, true);
      assert.ok(answer.answer.includes("nine kilograms"), answer.answer);
      const citations: Citation[] = answer.citations;
      assert.deepEqual(
        citations.map((c) => [c.document_id, c.filename]),
        [[documentId, "zebras.md"]],
      );
      assert.ok(deltas.length > 0);
      assert.deepEqual(
        deltas.map((d) => d.seq),
        deltas.map((_, i) => i),
      );
      assert.equal(deltas.map((d) => d.text).join(""), answer.answer);
      // The typed subscription to the tenant's answers saw the same event.
      for await (const ready of readies) {
        if (ready.query_id !== stream.queryId) continue;
        assert.equal(ready.answer, answer.answer);
        break;
      }
    });

    test("refuses bad input before sending anything", async () => {
      const big = "a".repeat(MAX_INLINE_TEXT_BYTES + 1);
      await assert.rejects(nats.upload({ filename: "big.txt", text: big }), (error: unknown) => {
        assert.ok(error instanceof RagbusNatsError && error.code === "invalid_input");
        assert.match(error.message, /262145 bytes .* at most 262144 \(256 KiB/);
        return true;
      });
      // Multi-byte characters count as their UTF-8 bytes, not as characters.
      await assert.rejects(nats.upload({ filename: "big.txt", text: "é".repeat(MAX_INLINE_TEXT_BYTES / 2 + 1) }), {
        code: "invalid_input",
      });
      await assert.rejects(
        nats.upload({ filename: "x.md", text: "x", documentId: "doc-1" }),
        /documentId must be a uuid/,
      );
      await assert.rejects(nats.ask("why?", { topK: 0 }), /topK must be an integer from 1 to 100/);
      await assert.rejects(nats.ask(" "), { code: "invalid_input" });
    });

    test("a reader key may ask but not upload: a clear permission error, not a hang", async () => {
      const admin = new RagbusClient({ baseUrl: stack().baseUrl, apiKey: stack().apiKey });
      const made = await admin.api.POST("/v1/admin/nats-credentials", {
        body: { name: "sdk-reader", role: "reader" },
      });
      assert.equal(made.response.status, 201, JSON.stringify(made.error));
      const key = (made.data as { key: string }).key;
      const reader = await RagbusNats.connect({ gatewayUrl: stack().baseUrl, apiKey: key, ackTimeoutMs: 5_000 });
      try {
        assert.equal(reader.access.role, "reader");
        const started = Date.now();
        await assert.rejects(reader.upload({ filename: "nope.md", text: "# No\n" }), (error: unknown) => {
          assert.ok(error instanceof RagbusNatsError, String(error));
          assert.equal(error.code, "permission_denied");
          assert.match(error.message, /document\.uploaded\./);
          return true;
        });
        assert.ok(Date.now() - started < 4_000, "the refusal came from NATS, not from the ack timeout");
        const stream = await reader.ask("When is the hay fed?", { topK: 2, timeoutMs: 60_000 });
        const answer = await stream.answer;
        assert.equal(answer.citations[0]?.document_id, documentId);
      } finally {
        await reader.close();
      }
    });

    test("NATS refuses a key it does not know", async () => {
      await assert.rejects(
        RagbusNats.connect({ access: nats.access, apiKey: `rbk_000000000000_${"x".repeat(43)}` }),
        (error: unknown) => {
          assert.ok(error instanceof RagbusNatsError);
          assert.equal(error.code, "unauthorized");
          return true;
        },
      );
    });

    test("a document event's family gives its type", async () => {
      // Followed from its upload: status changes, then document.indexed, each typed by its family.
      const families: NatsDocumentEvent["family"][] = [];
      const second = randomUUID();
      await nats.upload({ filename: "hooves.md", text: "# Hooves\n\nTrimmed every ten weeks.\n", documentId: second });
      for await (const { family, event } of nats.followDocument(second, { timeoutMs: 60_000 })) {
        families.push(family);
        if (family === "document.status") assert.ok(["parsing", "embedding", "indexed"].includes(event.status));
      }
      assert.equal(families.at(-1), "document.indexed");
    });
  });
}
