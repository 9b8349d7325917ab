import type { Context } from "hono";
import * as z from "zod";
import type { AppEnv } from "../../app-env";
import { sha256Hex } from "../../lib/crypto";
import { ApiError } from "../../lib/errors";
import { IDEMPOTENCY_KEY, claimIdempotencyKey, keyInBatch, purgeExpired } from "../../ingest/batch";
import type { Claim, ItemError, StoredResponse } from "../../ingest/batch";
import { tenantData } from "../../db/shards";

/** Most items in one request (reference: "push up to 1000 multiple items at the same time"). */
export const MAX_ITEMS = 1000;

/** A `/v1` answer: `{ code, message, data }` with `code` the HTTP status. */
export function envelope(status: number, message: string, data: unknown = null): StoredResponse {
  return { status, body: JSON.stringify({ code: status, message, data }) };
}

export function send(c: Context<AppEnv>, res: StoredResponse, headers: Record<string, string> = {}): Response {
  return c.body(res.body, res.status as 200, { "Content-Type": "application/json; charset=UTF-8", ...headers });
}

/** 400 naming every refused item (the first 100) by index, field and reason. */
export function itemErrors(errors: ItemError[], total: number, count: number): StoredResponse {
  const first = errors[0];
  const where = first ? ` First: item ${first.index}, field ${first.field}: ${first.reason}.` : "";
  return envelope(400, `${total} error(s) in ${count} item(s); nothing was ingested.${where}`, {
    errors,
    error_count: total,
  });
}

/** The raw JSON body of a request (refuses other content types with 415). */
export async function readJson(c: Context<AppEnv>): Promise<{ raw: string; body: unknown }> {
  const type = c.req.header("content-type");
  if (type && !/\bjson\b/i.test(type)) {
    throw new ApiError("unsupported_media_type", `Content-Type must be application/json, got ${type}`);
  }
  const raw = await c.req.text();
  if (!raw.trim()) throw new ApiError("bad_request", "The request body is empty; send a JSON object");
  try {
    return { raw, body: JSON.parse(raw) };
  } catch (err) {
    throw new ApiError("bad_request", `Malformed JSON body: ${(err as Error).message}`);
  }
}

const envelopeSchemas = new Map<string, z.ZodType<Record<string, unknown[]>>>();

/** The zod schema of `{ "<key>": [ 1 to 1000 items ] }`, built once per key (not per request). */
function envelopeSchema(key: string): z.ZodType<Record<string, unknown[]>> {
  let schema = envelopeSchemas.get(key);
  if (!schema) {
    schema = z
      .object({
        [key]: z
          .array(z.unknown(), { error: `"${key}" must be a list of items` })
          .min(1, `"${key}" is empty; send 1 to ${MAX_ITEMS} items`)
          .max(MAX_ITEMS, `"${key}" has too many items: at most ${MAX_ITEMS} per request`),
      })
      .strict() as unknown as z.ZodType<Record<string, unknown[]>>;
    envelopeSchemas.set(key, schema);
  }
  return schema;
}

/**
 * The items under the batch's top-level key: `{ "<key>": [ 1 to 1000 items ] }`. The
 * envelope is checked by zod; items are checked by validateItems.
 */
export function batchItems(body: unknown, keys: readonly string[]): unknown[] {
  const shape = `{"${keys[0]}": [ ... ]}`;
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new ApiError("bad_request", `The body must be a JSON object ${shape}`);
  }
  const present = keys.filter((k) => k in body);
  if (present.length !== 1) {
    throw new ApiError("bad_request", `The body must hold exactly one list under ${keys.map((k) => `"${k}"`).join(" or ")}: ${shape}`);
  }
  const key = present[0] as string;
  const parsed = envelopeSchema(key).safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const message =
      issue?.code === "unrecognized_keys"
        ? `Unknown top-level field(s) ${issue.keys.map((k) => `"${k}"`).join(", ")}; the body is ${shape}`
        : issue?.code === "too_big"
          ? `"${key}" has ${(body as Record<string, unknown[]>)[key]?.length} items; at most ${MAX_ITEMS} per request`
          : (issue?.message ?? "invalid body");
    throw new ApiError("bad_request", message);
  }
  return parsed.data[key] as unknown[];
}

/** Builds the statements that store a response; the caller puts them in its final batch. */
export type Store = (res: StoredResponse) => D1PreparedStatement[];

/**
 * Runs a POST under its `Idempotency-Key` header, if any
 * (https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/):
 * the first response is stored per tenant for 24 hours, in the same D1 batch as the writes
 * when `run` passes `store(response)` into it; the same request again gets the stored
 * response and writes nothing; the key with a different request is 422; while the first
 * request is still running, 409. A request that ends without storing (refused input, an
 * error) leaves the key free, so the corrected request can use it.
 *
 * `batchOnly`: `run` writes nothing but the batch it passes `store(response)` into. The key is
 * then recorded by that batch alone, with no claim before it (one round trip to the shard, not
 * two): a held key fails the batch, which writes nothing, and the key's record answers instead.
 * Without it (a request that writes elsewhere first), the key is claimed before `run`.
 */
export async function idempotent(
  c: Context<AppEnv>,
  raw: string,
  run: (store: Store) => Promise<StoredResponse>,
  opts: { batchOnly?: boolean } = {},
): Promise<Response> {
  const key = c.req.header("idempotency-key");
  if (key === undefined) return send(c, await run(() => []));
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw new ApiError("bad_request", "Idempotency-Key must be 1 to 255 printable ASCII characters (a UUID, for example)");
  }
  const s = c.var.services;
  const td = tenantData(s.shards, c.get("principal"));
  const fingerprint = await sha256Hex(`${c.req.method} ${c.req.path}\n${raw}`);
  if (opts.batchOnly) {
    const k = keyInBatch(s.clock, td, key, fingerprint);
    try {
      return send(c, await run(k.statements));
    } catch (err) {
      const held = await k.held().catch(() => null);
      if (!held) throw err;
      return answerHeld(c, held);
    }
  }
  const claim = await claimIdempotencyKey(s.clock, td, key, fingerprint);
  if (claim.kind !== "claimed") return answerHeld(c, claim);
  let stored = false;
  try {
    const res = await run((r) => {
      stored = true;
      return [claim.complete(r), purgeExpired(s.clock, td.db)];
    });
    if (!stored) await claim.release();
    return send(c, res);
  } catch (err) {
    await claim.release().catch(() => {});
    throw err;
  }
}

/** The answer to a request whose key is held: the stored response again, 409 or 422. */
function answerHeld(c: Context<AppEnv>, held: Exclude<Claim, { kind: "claimed" }>): Response {
  switch (held.kind) {
    case "replay":
      return send(c, held.response, { "Idempotent-Replayed": "true" });
    case "in_flight":
      throw new ApiError("conflict", "A request with this Idempotency-Key is still being processed; retry later");
    case "mismatch":
      throw new ApiError(
        "unprocessable",
        "This Idempotency-Key was already used for a different request; use a new key for a new request",
      );
  }
}
