import { getSegmentRun } from "../db/segments";
import { memberPage, tenantData } from "../db/shards";
import { ApiError } from "../lib/errors";
import type { Services } from "../services";
import { type SegmentResult, findSegment, startRecompute } from "./service";

/**
 * The reference's persona endpoints (`POST /v1/segments/:segment_id/personas/:persona/users`
 * and `.../traits`): reads of a segment's published result. A recompute in progress does not
 * change what they answer until it publishes.
 */

/** Most ids per page (the default too): ~400 KB of JSON at 40-character ids. */
export const MAX_PAGE = 10_000;

interface Published {
  segmentId: string;
  generation: string;
  result: SegmentResult;
  /** null: every persona */
  persona: number | null;
}

/** `all` or 1..n; anything else is a 400, a number past the segment's personas a 404. */
export function parsePersona(raw: string): number | "all" {
  if (raw === "all") return "all";
  if (!/^[1-9]\d{0,5}$/.test(raw)) throw new ApiError("bad_request", `persona must be a persona number (1, 2, ...) or "all", got "${raw.slice(0, 40)}"`);
  return Number(raw);
}

async function published(s: Services, tenantId: string, segmentId: string, rawPersona: string): Promise<Published> {
  const persona = parsePersona(rawPersona);
  const seg = await findSegment(s, tenantId, segmentId);
  if (!seg) throw new ApiError("not_found", `segment '${segmentId.slice(0, 100)}' not found; use "default" or a segment id from GET /api/1/segments`);
  if (seg.computed_at === null || !seg.result || !seg.generation) {
    // Never computed: a default segment on its first use is computed now; otherwise say where its recompute stands.
    const run = seg.run_id === null ? (await startRecompute(s, seg, "first use")).run : await getSegmentRun(s.db, tenantId, seg.run_id);
    const where =
      run?.status === "failed"
        ? `its last recompute failed (${run.error ?? "no reason recorded"}); POST /api/1/segments/${seg.id}/recompute tries again`
        : `its first recompute is running${run ? ` (${Math.round(run.progress * 100)}% done)` : ""}, retry shortly`;
    throw new ApiError("conflict", `segment '${seg.id}' has no personas yet: it has not been computed; ${where}`);
  }
  const result = JSON.parse(seg.result) as SegmentResult;
  const n = result.personas.length;
  if (persona !== "all" && persona > n) {
    throw new ApiError("not_found", `persona ${persona} not found: segment '${seg.id}' has ${n === 0 ? "no personas (no users)" : n === 1 ? "1 persona (1)" : `${n} personas (1 to ${n})`}`);
  }
  return { segmentId: seg.id, generation: seg.generation, result, persona: persona === "all" ? null : persona };
}

interface Cursor {
  g: string;
  p: number;
  u: string;
}

const encodeCursor = (c: Cursor) => btoa(JSON.stringify(c)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

function decodeCursor(raw: string): Cursor {
  try {
    const c = JSON.parse(atob(raw.replace(/-/g, "+").replace(/_/g, "/"))) as Cursor;
    if (typeof c.g === "string" && typeof c.p === "number" && typeof c.u === "string") return c;
  } catch {}
  throw new ApiError("bad_request", "cursor is not one this endpoint gave out; send back the cursor of the previous page as it was");
}

/**
 * One page of the ids of a persona (or of every persona, in persona order). `cursor` is there
 * when more remain; pass it back to get the next page. A cursor outlives no recompute: after the
 * segment is recomputed it is a 409 (start again from the first page).
 */
export async function personaUsers(
  s: Services,
  principal: { tenantId: string; shard: number },
  segmentId: string,
  rawPersona: string,
  page: { cursor?: string; limit?: number },
): Promise<{ ids: string[]; cursor?: string }> {
  const p = await published(s, principal.tenantId, segmentId, rawPersona);
  const limit = page.limit ?? MAX_PAGE;
  let after: { persona: number; user: string } | null = null;
  if (page.cursor) {
    const c = decodeCursor(page.cursor);
    if (c.g !== p.generation) throw new ApiError("conflict", `segment '${p.segmentId}' was recomputed since this cursor was given out; start again without a cursor`);
    after = { persona: c.p, user: c.u };
  }
  const rows = await memberPage(tenantData(s.shards, principal), p.segmentId, p.generation, p.persona, after, limit + 1);
  const more = rows.length > limit;
  const ids = rows.slice(0, limit);
  const last = ids[ids.length - 1];
  return { ids: ids.map((r) => r.user_id), ...(more && last ? { cursor: encodeCursor({ g: p.generation, p: last.persona, u: last.user_id }) } : {}) };
}

/** category -> trait -> mean score of a persona (or of the whole segment), traits nobody scored left out. */
export async function personaTraits(s: Services, tenantId: string, segmentId: string, rawPersona: string): Promise<Record<string, Record<string, number>>> {
  const p = await published(s, tenantId, segmentId, rawPersona);
  const means = p.persona === null ? p.result.means : (p.result.personas.find((x) => x.persona === p.persona)?.means ?? []);
  const out: Record<string, Record<string, number>> = {};
  p.result.traits.forEach((t, i) => {
    const m = means[i];
    if (m === null || m === undefined) return;
    out[t.category] ??= {};
    (out[t.category] as Record<string, number>)[t.trait] = m;
  });
  return out;
}
