import { getRunUnscoped, type RunFileRow } from "../db/runs";
import type { RunRow } from "../db/schema";
import type { Env } from "../env";
import { fromBase64, toBase64Url } from "../lib/crypto";
import { ApiError, notFound } from "../lib/errors";
import { isoSeconds } from "../lib/time";
import type { Services } from "../services";

/**
 * Signed download URLs: `/api/1/downloads/<run_id>?expires=<epoch s>&sig=<HMAC>`.
 * The MAC covers run id, tenant id and expiry, with a key derived by HKDF from the
 * SECRETS_KEY Worker secret (RFC 5869), so a link works without a token, for that one
 * run of that one tenant, until it expires.
 */

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function downloadKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = (async () => {
      const ikm = await crypto.subtle.importKey("raw", fromBase64(secret), "HKDF", false, ["deriveKey"]);
      return crypto.subtle.deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: encoder.encode("ferry"), info: encoder.encode("download-url v1") },
        ikm,
        { name: "HMAC", hash: "SHA-256", length: 256 },
        false,
        ["sign", "verify"],
      );
    })();
    keys.set(secret, key);
  }
  return key;
}

const payload = (runId: string, tenantId: string, expires: number) => encoder.encode(`v1\n${runId}\n${tenantId}\n${expires}`);

export async function signDownload(env: Env, runId: string, tenantId: string, expires: number): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await downloadKey(env.SECRETS_KEY), payload(runId, tenantId, expires));
  return toBase64Url(new Uint8Array(mac));
}

/** Constant-time check (crypto.subtle.verify) of a link's signature. */
export async function verifyDownload(env: Env, runId: string, tenantId: string, expires: number, sig: string): Promise<boolean> {
  let mac: Uint8Array;
  try {
    mac = fromBase64(sig);
  } catch {
    return false;
  }
  if (mac.length !== 32) return false;
  return crypto.subtle.verify("HMAC", await downloadKey(env.SECRETS_KEY), mac, payload(runId, tenantId, expires));
}

/** Default lifetime of a link; never beyond the file's own expiry. */
export const DEFAULT_URL_TTL_SECONDS = 24 * 3600;

/** A signed link for a finished run's file, or null when there is no file to fetch. */
export async function downloadUrl(s: Services, origin: string, run: RunFileRow): Promise<string | null> {
  if (run.status !== "finished" || run.expired_at !== null || !run.file_key) return null;
  const ttl = Number(s.env.DOWNLOAD_URL_TTL_SECONDS ?? DEFAULT_URL_TTL_SECONDS) || DEFAULT_URL_TTL_SECONDS;
  const expires = Math.min(s.clock.seconds() + ttl, run.expires_at ?? Number.MAX_SAFE_INTEGER);
  const sig = await signDownload(s.env, run.id, run.tenant_id, expires);
  return `${origin}/api/1/downloads/${run.id}?expires=${expires}&sig=${sig}`;
}

export type ByteRange = { offset: number; length: number };

/**
 * Parses a single-range `Range: bytes=...` header (RFC 9110 section 14.2).
 * Returns null for no/unsupported range (serve the whole file), "unsatisfiable" for 416.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | null | "unsatisfiable" {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return null; // multiple ranges or another unit: a server may ignore Range
  const [, a, b] = m;
  if (a === "" && b === "") return null;
  if (a === "") {
    const suffix = Number(b);
    if (suffix === 0) return "unsatisfiable";
    const length = Math.min(suffix, size);
    return size === 0 ? "unsatisfiable" : { offset: size - length, length };
  }
  const start = Number(a);
  if (start >= size) return "unsatisfiable";
  const end = b === "" ? size - 1 : Math.min(Number(b), size - 1);
  if (end < start) return null; // syntactically invalid: ignore
  return { offset: start, length: end - start + 1 };
}

/** `Content-Disposition` with an ASCII fallback and the RFC 6266 / 8187 UTF-8 form. */
export function contentDisposition(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\]/g, "_");
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(fileName)}`;
}

/**
 * The run a signed link opens, once its signature, its expiry and the file's retention are
 * checked. An unknown run answers like a bad signature, so links cannot probe run ids.
 */
export async function openDownload(s: Services, runId: string, expires: number, sig: string): Promise<RunRow & { file_key: string }> {
  const run = await getRunUnscoped(s.db, runId);
  if (!run || !(await verifyDownload(s.env, run.id, run.tenant_id, expires, sig))) {
    throw new ApiError("forbidden", "This download link is not valid (its signature does not match); get a fresh link from the run");
  }
  if (expires < s.clock.seconds()) {
    throw new ApiError(
      "forbidden",
      `This download link expired at ${isoSeconds(expires)}; get a fresh link from GET /api/1/exports/${run.export_id}/runs/${run.id}`,
    );
  }
  if (run.expired_at !== null) throw notFound(`The file of run ${run.id} was deleted after its retention period; it`);
  if (run.status !== "finished" || !run.file_key) throw notFound(`The file of run ${run.id}`);
  return run as RunRow & { file_key: string };
}
