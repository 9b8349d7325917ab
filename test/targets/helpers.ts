import { env } from "cloudflare:test";
import { inject } from "vitest";
import type { Env } from "../../src/env";
import { createServices } from "../../src/services";
import { GcsTarget } from "../../src/targets/config";
import { type DeliveryContext, type DeliveryFile, type DeliveryOptions, type TargetDriver, type UploadState, partCount, partRange } from "../../src/targets/types";

export const e = env as unknown as Env;

/**
 * A whole delivery in one go, as the delivery chain runs it link by link (src/deliveries/):
 * begin, every part read from R2 by range, complete; on a failure, abort (as the chain does when
 * it fails or gives up) and throw. `onPart` runs after each part (a test breaks things there).
 */
export async function deliver<C, S extends UploadState>(
  driver: TargetDriver<C, S>,
  cfg: C,
  file: DeliveryFile,
  c: DeliveryContext,
  opts: DeliveryOptions = {},
  onPart?: (n: number, state: S) => Promise<void>,
): Promise<{ location: string; state: S }> {
  const s = createServices(e);
  let state: S | undefined;
  try {
    state = await driver.begin(s, cfg, file, c, opts);
    for (let n = 1; n <= partCount(state.size, state.part_size); n++) {
      const obj = await e.FILES.get(file.key, { range: partRange(state, n) });
      state = await driver.putPart(s, cfg, state, n, new Uint8Array(await obj!.arrayBuffer()), opts);
      await onPart?.(n, state);
    }
    return { ...(await driver.complete(s, cfg, state, opts)), state };
  } catch (err) {
    if (state) await driver.abort(s, cfg, state, opts).catch(() => {});
    throw err;
  }
}
export const servers = () => inject("targetServers");

/** Deterministic pseudo-random bytes (xorshift32), so a wrong byte anywhere shows. */
export function bytes(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 255;
  }
  return out;
}

let n = 0;
/** A unique name per call, for buckets, containers and paths (tests share the servers). */
export const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${(n++).toString(36)}-${Math.random().toString(36).slice(2, 6)}`;

/** Puts `data` in R2 as a finished run's file would be. */
export async function putFile(data: Uint8Array, name = "export.csv"): Promise<DeliveryFile> {
  const key = `runs/${unique("run")}/${name}`;
  await e.FILES.put(key, data);
  return { key, size: data.length, name, contentType: "text/csv" };
}

export const ctx = (runId = "run_test"): DeliveryContext => ({ exportName: "win-info", runId, date: "2026-11-25" });

export async function control(path: string, init?: RequestInit): Promise<Response> {
  return fetch(`${servers().control}${path}`, init);
}

export async function controlJson(path: string, body: unknown): Promise<void> {
  const r = await control(path, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  await r.body?.cancel();
}

/** Reads back what a server stored, as bytes. */
export async function readBack(path: string): Promise<Uint8Array> {
  const r = await control(path);
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return new Uint8Array(await r.arrayBuffer());
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Fast options for tests: short backoff; timeouts long enough never to fire by accident. */
export const fast = { backoffMs: 20, attempts: 4, timeoutMs: 20_000 };

/** A fresh bucket on the GCS stand-in and a target writing to it with the test service account (1 MiB chunks). */
export async function gcsTarget(over: Record<string, unknown> = {}): Promise<GcsTarget> {
  const g = servers().gcs;
  const bucket = unique("gcs").toLowerCase();
  await controlJson("/gcs/buckets", { name: bucket });
  return GcsTarget.parse({ type: "gcs", endpoint: g.endpoint, bucket, service_account: g.key, chunk_size_mb: 1, object: "{name}", ...over });
}
