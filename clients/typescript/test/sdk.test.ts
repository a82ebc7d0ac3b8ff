/**
 * The SDK against a real `ragbus up` (embedded nats-server and Postgres, the real
 * embedding model, the offline answerer), started here on a free port in a temporary
 * data dir; the key is the admin key `ragbus up` writes there. The build that runs
 * these tests is the type check: `tsc` fails on any misuse of the generated types.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import { type AnswerEvent, type Citation, type DocumentEvent, RagbusClient, RagbusError } from "../src/index.js";

const RAGBUS = process.env.RAGBUS_BIN ?? fileURLToPath(new URL("../../../../.venv/bin/ragbus", import.meta.url));
const START_TIMEOUT_MS = 240_000;
const BELLS = "# Bells\n\nThe bronze bell in the north tower rings at noon on Sundays.\n";

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `ragbus up` in `dataDir`, ready; its output is kept for the failure message. */
async function startRagbus(dataDir: string, port: number): Promise<{ stack: ChildProcess; output: string[] }> {
  const output: string[] = [];
  const stack = spawn(RAGBUS, ["up", "--port", String(port), "--data-dir", dataDir], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, HF_HUB_OFFLINE: "1", LITELLM_LOCAL_MODEL_COST_MAP: "True" },
  });
  stack.stdout?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  stack.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    assert.equal(stack.exitCode, null, `ragbus up exited: ${output.join("")}`);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    const key = await readFile(path.join(dataDir, "admin.key"), "utf8").catch(() => "");
    if (ready && key) return { stack, output };
    assert.ok(Date.now() < deadline, `ragbus up not ready in ${START_TIMEOUT_MS} ms: ${output.join("")}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function stop(stack: ChildProcess): Promise<void> {
  if (stack.exitCode !== null) return;
  const exited = new Promise((resolve) => stack.once("exit", resolve));
  stack.kill("SIGINT");
  const timer = setTimeout(() => stack.kill("SIGKILL"), 60_000);
  await exited;
  clearTimeout(timer);
}

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

describe("ragbus SDK against ragbus up", () => {
  let dataDir = "";
  let stack: ChildProcess | undefined;
  let client: RagbusClient;
  let baseUrl = "";
  let documentId = "";

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), "ragbus-sdk-"));
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    ({ stack } = await startRagbus(dataDir, port));
    const apiKey = (await readFile(path.join(dataDir, "admin.key"), "utf8")).trim();
    client = new RagbusClient({ baseUrl, apiKey });
  });

  after(async () => {
    if (stack) await stop(stack);
    await rm(dataDir, { recursive: true, force: true });
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
    const stranger = new RagbusClient({ baseUrl, apiKey: `rbk_000000000000_${"x".repeat(43)}` });
    await assert.rejects(stranger.documents(), (error: unknown) => {
      assert.ok(error instanceof RagbusError);
      assert.equal(error.status, 401);
      assert.equal(error.code, "invalid_credentials");
      return true;
    });
  });
});
