/**
 * k-means over trait vectors, cut into passes over chunks of users so that a segment of any
 * size is clustered with a bounded amount of memory: the recompute chain (job.ts) feeds each
 * pass one chunk at a time from the shard and keeps only this state between links.
 *
 * - **Seeding: k-means++** (Arthur and Vassilvitskii, 2007), streamed: the next centre is drawn
 *   with probability proportional to D(x)^2 by weighted reservoir sampling (Efraimidis and
 *   Spirakis, 2006: keep the item with the largest ln(u)/w), one pass per centre. `u` is a hash
 *   of (seed, pass, user id), so the draw is the same whatever the chunking and order: a
 *   recompute of the same data gives the same personas.
 * - **Iterations: Lloyd's**, one pass each: assign every user to the nearest centre, sum, move
 *   the centres to the means. Stops when no centre moves more than `tolerance` (score points)
 *   or after `maxIterations`. The centres of the last pass are the final ones, so the cluster
 *   sizes counted in that pass are exactly those of the final assignment.
 * - A user's missing trait scores are imputed with the segment's mean of that trait (computed in
 *   the first pass), so they pull towards no persona in particular.
 *
 * `kmeansInMemory` runs the same algorithm over vectors held in memory; the tests and the
 * benchmark use it as the plain baseline (it must find the same personas).
 */

export interface KMeansConfig {
  k: number;
  /** number of traits (vector length) */
  dims: number;
  /** fixes the seeding draw */
  seed: string;
  maxIterations: number;
  /** convergence: the largest centre move in a pass, in score points */
  tolerance: number;
}

/** One user's trait vector: scores 0-100, null where the user has no score. */
export type RawVector = (number | null)[];

export interface VectorRow {
  user: string;
  vector: RawVector;
}

/** A draw candidate of the seeding pass in progress. */
interface Candidate {
  key: number;
  user: string;
  vector: number[];
}

export type KMeansState =
  | {
      phase: "seed";
      /** centres chosen so far */
      centres: number[][];
      /** imputation value per trait (the segment's mean) */
      fill: number[];
      best: Candidate | null;
    }
  | {
      phase: "iterate";
      iteration: number;
      centres: number[][];
      fill: number[];
      sums: number[][];
      counts: number[];
      inertia: number;
    }
  | {
      phase: "final";
      iterations: number;
      converged: boolean;
      centres: number[][];
      fill: number[];
      counts: number[];
      inertia: number;
    };

/** 53-bit string hash (cyrb53), deterministic everywhere. */
export function hash53(s: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** Uniform in (0, 1), fixed by (seed, pass, user). */
export const uniform = (seed: string, pass: number, user: string) => (hash53(`${seed}\u0000${pass}\u0000${user}`) + 0.5) / 2 ** 53;

/** The seeding key of a user with weight w (> 0): the largest key over a pass is the draw. */
const drawKey = (seed: string, pass: number, user: string, w: number) => Math.log(uniform(seed, pass, user)) / w;

const better = (key: number, user: string, best: Candidate | null) => best === null || key > best.key || (key === best.key && user < best.user);

export function impute(v: RawVector, fill: readonly number[]): number[] {
  const out = new Array<number>(fill.length);
  for (let i = 0; i < fill.length; i++) out[i] = v[i] ?? (fill[i] as number);
  return out;
}

function dist2(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] as number) - (b[i] as number);
    s += d * d;
  }
  return s;
}

/** The nearest centre (lowest index on a tie) and the squared distance to it. */
export function nearest(centres: readonly number[][], x: readonly number[]): { cluster: number; d2: number } {
  let cluster = 0;
  let d2 = Number.POSITIVE_INFINITY;
  for (let c = 0; c < centres.length; c++) {
    const d = dist2(centres[c] as number[], x);
    if (d < d2) {
      d2 = d;
      cluster = c;
    }
  }
  return { cluster, d2 };
}

/**
 * The first pass (over raw vectors, as they are built): per-trait sums for the imputation
 * values, and the uniform draw of the first centre.
 */
export interface FirstPass {
  users: number;
  sums: number[];
  counts: number[];
  best: { key: number; user: string; vector: RawVector } | null;
}

export const startFirstPass = (dims: number): FirstPass => ({
  users: 0,
  sums: new Array<number>(dims).fill(0),
  counts: new Array<number>(dims).fill(0),
  best: null,
});

export function firstPassChunk(cfg: KMeansConfig, p: FirstPass, rows: readonly VectorRow[]): void {
  for (const { user, vector } of rows) {
    p.users++;
    for (let i = 0; i < cfg.dims; i++) {
      const v = vector[i];
      if (v !== null && v !== undefined) {
        p.sums[i] = (p.sums[i] as number) + v;
        p.counts[i] = (p.counts[i] as number) + 1;
      }
    }
    const key = drawKey(cfg.seed, 0, user, 1);
    if (better(key, user, p.best as Candidate | null)) p.best = { key, user, vector };
  }
}

/** After the first pass: the seeding state with the first centre, or null for an empty segment. */
export function endFirstPass(cfg: KMeansConfig, p: FirstPass): KMeansState | null {
  if (!p.best) return null;
  // A trait nobody in the segment has: 50, the middle of the scale (it then moves no distance).
  const fill = p.sums.map((s, i) => ((p.counts[i] as number) > 0 ? s / (p.counts[i] as number) : 50));
  const first = impute(p.best.vector, fill);
  return advanceSeeding(cfg, { phase: "seed", centres: [first], fill, best: null });
}

/** Moves on from a seeding pass that drew nothing more, or that completed the k centres. */
function advanceSeeding(cfg: KMeansConfig, s: Extract<KMeansState, { phase: "seed" }>): KMeansState {
  if (s.centres.length < cfg.k) return s;
  return startIteration(s.centres, s.fill, 0);
}

const startIteration = (centres: number[][], fill: number[], iteration: number): KMeansState => ({
  phase: "iterate",
  iteration,
  centres,
  fill,
  sums: centres.map(() => new Array<number>(fill.length).fill(0)),
  counts: centres.map(() => 0),
  inertia: 0,
});

/** One chunk of the pass in progress (seeding or iteration). */
export function passChunk(cfg: KMeansConfig, s: KMeansState, rows: readonly VectorRow[]): void {
  if (s.phase === "final") throw new Error("k-means is finished; no pass is in progress");
  if (s.phase === "seed") {
    const pass = s.centres.length;
    for (const { user, vector } of rows) {
      const x = impute(vector, s.fill);
      const w = nearest(s.centres, x).d2;
      // A user on a centre already chosen cannot be drawn again.
      if (w <= 0) continue;
      const key = drawKey(cfg.seed, pass, user, w);
      if (better(key, user, s.best)) s.best = { key, user, vector: x };
    }
    return;
  }
  for (const { vector } of rows) {
    const x = impute(vector, s.fill);
    const { cluster, d2 } = nearest(s.centres, x);
    const sum = s.sums[cluster] as number[];
    for (let i = 0; i < x.length; i++) sum[i] = (sum[i] as number) + (x[i] as number);
    s.counts[cluster] = (s.counts[cluster] as number) + 1;
    s.inertia += d2;
  }
}

/** Ends the pass in progress; returns the state of the next pass (or the final one). */
export function endPass(cfg: KMeansConfig, s: KMeansState): KMeansState {
  if (s.phase === "final") return s;
  if (s.phase === "seed") {
    // No user left off the chosen centres (fewer distinct vectors than k): cluster with fewer.
    if (!s.best) return startIteration(s.centres, s.fill, 0);
    return advanceSeeding(cfg, { ...s, centres: [...s.centres, s.best.vector], best: null });
  }
  let shift = 0;
  const next = s.centres.map((c, j) => {
    const n = s.counts[j] as number;
    // An empty cluster keeps its centre.
    if (n === 0) return c;
    const m = (s.sums[j] as number[]).map((v) => v / n);
    shift = Math.max(shift, Math.sqrt(dist2(m, c)));
    return m;
  });
  const iterations = s.iteration + 1;
  const converged = shift <= cfg.tolerance;
  if (converged || iterations >= cfg.maxIterations) {
    return { phase: "final", iterations, converged, centres: s.centres, fill: s.fill, counts: s.counts, inertia: s.inertia };
  }
  return startIteration(next, s.fill, iterations);
}

/**
 * Persona numbers of the final clusters: 1 for the largest, ties to the lower cluster index;
 * empty clusters get none (0).
 */
export function personaNumbers(counts: readonly number[]): number[] {
  const order = counts
    .map((n, c) => ({ n, c }))
    .filter((x) => x.n > 0)
    .sort((a, b) => b.n - a.n || a.c - b.c);
  const out = counts.map(() => 0);
  order.forEach((x, i) => {
    out[x.c] = i + 1;
  });
  return out;
}

/** The membership of one user under the final centres. */
export function assignFinal(s: Extract<KMeansState, { phase: "final" }>, numbers: readonly number[], vector: RawVector) {
  const { cluster, d2 } = nearest(s.centres, impute(vector, s.fill));
  return { persona: numbers[cluster] as number, distance: Math.sqrt(d2) };
}

/** Per-persona means of the scores users really have (no imputed values), accumulated in the write pass. */
export interface TraitMeans {
  sums: number[][];
  counts: number[][];
}

export const startMeans = (personas: number, dims: number): TraitMeans => ({
  sums: Array.from({ length: personas }, () => new Array<number>(dims).fill(0)),
  counts: Array.from({ length: personas }, () => new Array<number>(dims).fill(0)),
});

export function addToMeans(m: TraitMeans, persona: number, vector: RawVector): void {
  const sums = m.sums[persona - 1] as number[];
  const counts = m.counts[persona - 1] as number[];
  for (let i = 0; i < sums.length; i++) {
    const v = vector[i];
    if (v !== null && v !== undefined) {
      sums[i] = (sums[i] as number) + v;
      counts[i] = (counts[i] as number) + 1;
    }
  }
}

/**
 * The same algorithm over vectors in memory: the baseline of the tests and the benchmark.
 * Returns the final state and each user's persona.
 */
export function kmeansInMemory(cfg: KMeansConfig, rows: readonly VectorRow[]) {
  const first = startFirstPass(cfg.dims);
  firstPassChunk(cfg, first, rows);
  let s = endFirstPass(cfg, first);
  if (!s) return null;
  while (s.phase !== "final") {
    passChunk(cfg, s, rows);
    s = endPass(cfg, s);
  }
  const numbers = personaNumbers(s.counts);
  const personas = rows.map((r) => assignFinal(s as Extract<KMeansState, { phase: "final" }>, numbers, r.vector).persona);
  return { state: s, numbers, personas };
}
