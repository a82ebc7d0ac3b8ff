/**
 * A real `ragbus up` for the tests (embedded nats-server and Postgres, the real
 * embedding model, the offline answerer), started on a free port in a temporary data
 * dir; the key is the admin key `ragbus up` writes there. One stack serves every
 * suite of a test file: `useStack()` starts it before them and stops it after.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before } from "node:test";
import { fileURLToPath } from "node:url";

const RAGBUS = process.env.RAGBUS_BIN ?? fileURLToPath(new URL("../../../../.venv/bin/ragbus", import.meta.url));
const START_TIMEOUT_MS = 240_000;

/** The running stack: its gateway and the tenant admin's API key. */
export interface Stack {
  baseUrl: string;
  apiKey: string;
  dataDir: string;
}

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
  try {
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
  } catch (error) {
    await stop(stack);
    throw error;
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

/** Start `ragbus up` before the file's tests and stop it after; call at the top level.
 * The returned function gives the stack (inside tests and hooks). */
export function useStack(): () => Stack {
  let stack: Stack | undefined;
  let child: ChildProcess | undefined;
  let dataDir = "";
  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), "ragbus-sdk-"));
    const port = await freePort();
    ({ stack: child } = await startRagbus(dataDir, port));
    const apiKey = (await readFile(path.join(dataDir, "admin.key"), "utf8")).trim();
    stack = { baseUrl: `http://127.0.0.1:${port}`, apiKey, dataDir };
  });
  after(async () => {
    if (child) await stop(child);
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });
  return () => {
    assert.ok(stack, "the ragbus stack did not start");
    return stack;
  };
}
