import { describe, expect, it } from "vitest";
import { compileSegmentFilter } from "../../src/segments/filters";
import {
  type KMeansConfig,
  type KMeansState,
  type VectorRow,
  endFirstPass,
  endPass,
  firstPassChunk,
  kmeansInMemory,
  passChunk,
  personaNumbers,
  startFirstPass,
} from "../../src/segments/kmeans";
import { compileKey, defaultScoringKey, likert, scoreUser } from "../../src/segments/scoring";
import { REFERENCE_TRAITS } from "../../src/segments/traits";
import { prng } from "./helpers";

const cfg = (k: number, dims: number): KMeansConfig => ({ k, dims, seed: "test", maxIterations: 50, tolerance: 0.001 });

/** Blobs around `centres`, users named so that id order mixes the blobs. */
function blobs(centres: number[][], perBlob: number, spread = 5, seed = 1): VectorRow[] {
  const rnd = prng(seed);
  const rows: VectorRow[] = [];
  centres.forEach((c, b) => {
    for (let i = 0; i < perBlob; i++) rows.push({ user: `u${String(Math.floor(rnd() * 1e9)).padStart(9, "0")}-${b}`, vector: c.map((v) => v + (rnd() - 0.5) * spread) });
  });
  return rows.sort((a, b) => (a.user < b.user ? -1 : 1));
}

/** The pass machine driven in chunks of `size`, as the recompute chain drives it. */
function chunked(c: KMeansConfig, rows: VectorRow[], size: number) {
  const first = startFirstPass(c.dims);
  for (let i = 0; i < rows.length; i += size) firstPassChunk(c, first, rows.slice(i, i + size));
  let s = endFirstPass(c, first) as KMeansState;
  let passes = 1;
  while (s.phase !== "final") {
    for (let i = 0; i < rows.length; i += size) passChunk(c, s, rows.slice(i, i + size));
    s = JSON.parse(JSON.stringify(endPass(c, s))) as KMeansState; // the checkpoint round trip
    passes++;
  }
  return { state: s, passes };
}

describe("k-means in passes", () => {
  const centres = [
    [10, 10, 90, 50],
    [90, 50, 10, 10],
    [50, 90, 50, 90],
  ];
  const rows = blobs(centres, 80);

  it("finds well-separated blobs, and any chunking gives exactly the in-memory result", () => {
    const mem = kmeansInMemory(cfg(3, 4), rows);
    expect(mem?.state.phase).toBe("final");
    for (const size of [1, 7, 64, 1000]) {
      const { state } = chunked(cfg(3, 4), rows, size);
      expect(state, `chunks of ${size}`).toEqual(mem?.state);
    }
    // Each blob is one persona.
    const byBlob = new Map<string, Set<number>>();
    rows.forEach((r, i) => {
      const blob = r.user.split("-")[1] as string;
      byBlob.set(blob, (byBlob.get(blob) ?? new Set()).add(mem?.personas[i] as number));
    });
    expect([...byBlob.values()].map((s) => s.size)).toEqual([1, 1, 1]);
    expect(new Set([...byBlob.values()].map((s) => [...s][0])).size).toBe(3);
  });

  it("is deterministic: the same rows give the same centres and personas", () => {
    expect(kmeansInMemory(cfg(3, 4), rows)).toEqual(kmeansInMemory(cfg(3, 4), rows.map((r) => ({ ...r }))));
  });

  it("seeds with k-means++: the second centre is drawn far from the first", () => {
    // Two blobs of very different sizes: a uniform draw would mostly pick the big one twice.
    const lopsided = blobs([[0, 0], [100, 100]], 1, 1).concat(blobs([[0, 0]], 300, 1, 7));
    let split = 0;
    for (let seed = 0; seed < 20; seed++) {
      const c = { ...cfg(2, 2), seed: `s${seed}` };
      const first = startFirstPass(2);
      firstPassChunk(c, first, lopsided);
      let s = endFirstPass(c, first) as KMeansState;
      passChunk(c, s, lopsided);
      s = endPass(c, s);
      const far = (s.centres as number[][]).some((x) => (x[0] as number) > 50);
      if (far) split++;
    }
    expect(split).toBeGreaterThanOrEqual(18);
  });

  it("imputes a missing trait with the segment's mean, and clusters with fewer centres when fewer distinct users", () => {
    const same: VectorRow[] = Array.from({ length: 5 }, (_, i) => ({ user: `u${i}`, vector: [40, i % 2 ? null : 60] }));
    const r = kmeansInMemory(cfg(3, 2), same);
    expect(r?.state.fill).toEqual([40, 60]);
    expect(r?.state.centres).toHaveLength(1);
    expect(r?.personas).toEqual([1, 1, 1, 1, 1]);
    expect(kmeansInMemory(cfg(3, 2), [])).toBeNull();
  });

  it("numbers personas by size, largest first, ties to the lower cluster; empty clusters get none", () => {
    expect(personaNumbers([5, 9, 0, 9])).toEqual([3, 1, 0, 2]);
  });
});

describe("scoring", () => {
  const key = compileKey(defaultScoringKey());

  it("the default key scores every trait of the reference, two questions each (one reverse-keyed)", () => {
    const expected = Object.entries(REFERENCE_TRAITS).flatMap(([c, ts]) => ts.map((t) => `${c}/${t}`));
    expect(key.traits.map((t) => `${t.category}/${t.trait}`)).toEqual(expected);
    expect(expected).toHaveLength(69);
    const opens = key.questions.get("openness.fantasy.1");
    expect(opens).toEqual([{ trait: key.index.get("openness\u0000Fantasy"), direction: 1 }]);
    expect(key.questions.get("openness.fantasy.2")?.[0]?.direction).toBe(-1);
    // Shared: coreMotivations' Autonomy questions also score wellBeing's Autonomy.
    expect(key.questions.get("coreMotivations.autonomy.1")).toHaveLength(2);
  });

  it("normalises Likert answers to 0-100, reverse-keyed items flipped, averaged per trait", () => {
    const fantasy = key.index.get("openness\u0000Fantasy") as number;
    const v = scoreUser(key, new Map([["openness.fantasy.1", "4"], ["openness.fantasy.2", "1"]]), new Map());
    expect(v?.[fantasy]).toBe((75 + 100) / 2);
    expect(v?.filter((x) => x !== null)).toHaveLength(1);
    expect(likert(" 5 ", key)).toBe(5);
    expect(likert("6", key)).toBeNull();
    expect(likert("yes", key)).toBeNull();
    expect(scoreUser(key, new Map([["unknown.question", "3"]]), new Map())).toBeNull();
  });

  it("a pushed score overrides the survey's for that trait only", () => {
    const fantasy = key.index.get("openness\u0000Fantasy") as number;
    const actions = key.index.get("openness\u0000Actions") as number;
    const v = scoreUser(key, new Map([["openness.fantasy.1", "5"], ["openness.actions.1", "1"]]), new Map([[fantasy, 12.345]]));
    expect(v?.[fantasy]).toBe(12.35);
    expect(v?.[actions]).toBe(0);
  });
});

describe("segment filters", () => {
  it("compile over the per-user aggregates with the export filter language, and name what is wrong", () => {
    const ok = compileSegmentFilter([[{ field: "country", op: "eq", value: "DE" }, { field: "purchase_total", op: "gt", value: 10 }], [{ field: "last_login", op: "gte", value: "date:today -7 days" }]], new Date());
    expect(ok.issues).toEqual([]);
    expect(ok.filter?.facts.sort()).toEqual(["country", "last_login", "purchase_total"]);
    expect(compileSegmentFilter([], new Date()).filter).toBeNull();
    const bad = compileSegmentFilter([[{ field: "last_login", op: "gte", value: "yesterday-ish" }]], new Date());
    expect(bad.issues[0]).toMatchObject({ path: "filters.0.0.value" });
  });
});
