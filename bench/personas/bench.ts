// Persona recompute, bundled and run by run.mjs as a child process per variant (so each one's
// peak memory is its own): `node personas.mjs <generate|chunked|plain> <db> [options JSON]`.
// The rows live in a SQLite file shaped like the shard's working table (segment_vectors:
// user id, JSON vector), read with the same keyset query the recompute chain uses.
import { DatabaseSync } from "node:sqlite";
import {
  type KMeansConfig,
  type KMeansState,
  type RawVector,
  type VectorRow,
  addToMeans,
  assignFinal,
  endFirstPass,
  endPass,
  firstPassChunk,
  kmeansInMemory,
  passChunk,
  personaNumbers,
  startFirstPass,
  startMeans,
} from "../../src/segments/kmeans";

interface Options {
  users: number;
  dims: number;
  k: number;
  /** vectors per chunk (SEGMENT_CHUNK_USERS) */
  chunk: number;
  /** chunks per queue message: the state makes the JSON round trip of a checkpoint after each */
  perLink: number;
}

const rss = () => process.resourceUsage().maxRSS / 1024; // MiB
/**
 * Live V8 heap (MiB) after a full GC, taken while a chunk (or, in memory, every row) is in hand:
 * what the variant needs, garbage left out. run.mjs passes --expose-gc.
 */
let livePeak = 0;
const sampleLive = () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return;
  gc();
  livePeak = Math.max(livePeak, process.memoryUsage().heapUsed / 1024 / 1024);
};

function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `users` players from 6 trait profiles (Gaussian noise, sd 12), 3% of scores missing. */
function generate(path: string, o: Options) {
  const rnd = prng(42);
  const gauss = () => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
  const profiles = Array.from({ length: 6 }, () => Array.from({ length: o.dims }, () => 20 + rnd() * 60));
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;");
  db.exec("CREATE TABLE segment_vectors (user_id TEXT NOT NULL PRIMARY KEY, vector TEXT NOT NULL) WITHOUT ROWID");
  db.exec("CREATE TABLE persona_members (persona INTEGER NOT NULL, user_id TEXT NOT NULL, distance REAL NOT NULL, PRIMARY KEY (persona, user_id)) WITHOUT ROWID");
  const insert = db.prepare("INSERT INTO segment_vectors (user_id, vector) VALUES (?, ?)");
  db.exec("BEGIN");
  for (let i = 0; i < o.users; i++) {
    const p = profiles[Math.floor(rnd() * profiles.length)] as number[];
    const v = p.map((m) => (rnd() < 0.03 ? null : Math.round(Math.min(100, Math.max(0, m + gauss() * 12)) * 100) / 100));
    insert.run(`user-${(i * 7919) % o.users}-${i}`, JSON.stringify(v));
    if (i % 100_000 === 99_999) {
      db.exec("COMMIT");
      db.exec("BEGIN");
    }
  }
  db.exec("COMMIT");
  db.close();
}

const cfgOf = (o: Options): KMeansConfig => ({ k: o.k, dims: o.dims, seed: "ferry-personas-1", maxIterations: 50, tolerance: 0.001 });

/** The recompute as the chain runs it: passes over keyset chunks, the state checkpointed as JSON every `perLink` chunks. */
function chunked(path: string, o: Options) {
  const db = new DatabaseSync(path);
  const read = db.prepare("SELECT user_id, vector FROM segment_vectors WHERE user_id > ? ORDER BY user_id LIMIT ?");
  const write = db.prepare(
    "INSERT OR IGNORE INTO persona_members (persona, user_id, distance) SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]') FROM json_each(?)",
  );
  const cfg = cfgOf(o);
  const t0 = performance.now();
  let links = 0;
  let stateBytes = 0;
  /** one pass: chunks of rows to `each`, a checkpoint round trip of `state()` every perLink chunks */
  const pass = <S>(state: S, each: (rows: VectorRow[], s: S) => void): S => {
    let cursor = "";
    let s = state;
    let n = 0;
    for (;;) {
      const rows = read.all(cursor, o.chunk) as { user_id: string; vector: string }[];
      if (!rows.length) break;
      const parsed = rows.map((r) => ({ user: r.user_id, vector: JSON.parse(r.vector) as RawVector }));
      each(parsed, s);
      cursor = rows[rows.length - 1]?.user_id as string;
      // Every 50th chunk, while it is still referenced: a few full GCs per pass.
      if (n % 50 === 0 && parsed.length) sampleLive();
      if (++n % o.perLink === 0) {
        const json = JSON.stringify(s);
        stateBytes = Math.max(stateBytes, json.length);
        s = JSON.parse(json) as S;
        links++;
      }
    }
    links++;
    return s;
  };
  const first = pass(startFirstPass(cfg.dims), (rows, s) => firstPassChunk(cfg, s, rows));
  let km = endFirstPass(cfg, first) as KMeansState;
  let passes = 1;
  while (km.phase !== "final") {
    km = endPass(cfg, pass(km, (rows, s) => passChunk(cfg, s, rows)));
    passes++;
  }
  const final = km;
  const numbers = personaNumbers(final.counts);
  const means = pass(startMeans(Math.max(...numbers), cfg.dims), (rows, m) => {
    const members: [number, string, number][] = [];
    for (const r of rows) {
      const a = assignFinal(final, numbers, r.vector);
      addToMeans(m, a.persona, r.vector);
      members.push([a.persona, r.user, Math.round(a.distance * 10000) / 10000]);
    }
    db.exec("BEGIN");
    write.run(JSON.stringify(members));
    db.exec("COMMIT");
  });
  passes++;
  const seconds = (performance.now() - t0) / 1000;
  const sizes = numbers.map((p, c) => ({ p, n: final.counts[c] as number })).filter((x) => x.p > 0).sort((a, b) => a.p - b.p).map((x) => x.n);
  db.close();
  return { seconds, peakRssMiB: rss(), liveHeapMiB: livePeak, passes, links, iterations: final.iterations, converged: final.converged, sizes, stateBytes, meansPersonas: means.sums.length };
}

/** The plain way: every row in memory, the same k-means over it, then the membership written. */
function plain(path: string, o: Options) {
  const db = new DatabaseSync(path);
  const t0 = performance.now();
  const rows = (db.prepare("SELECT user_id, vector FROM segment_vectors ORDER BY user_id").all() as { user_id: string; vector: string }[]).map((r) => ({
    user: r.user_id,
    vector: JSON.parse(r.vector) as RawVector,
  }));
  sampleLive();
  const r = kmeansInMemory(cfgOf(o), rows);
  if (!r) throw new Error("no rows");
  db.exec("DELETE FROM persona_members");
  const write = db.prepare(
    "INSERT OR IGNORE INTO persona_members (persona, user_id, distance) SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]') FROM json_each(?)",
  );
  db.exec("BEGIN");
  for (let i = 0; i < rows.length; i += 5000) {
    write.run(JSON.stringify(rows.slice(i, i + 5000).map((row, j) => [r.personas[i + j], row.user, 0])));
  }
  db.exec("COMMIT");
  const seconds = (performance.now() - t0) / 1000;
  const sizes = r.numbers.map((p, c) => ({ p, n: r.state.counts[c] as number })).filter((x) => x.p > 0).sort((a, b) => a.p - b.p).map((x) => x.n);
  db.close();
  return { seconds, peakRssMiB: rss(), liveHeapMiB: livePeak, iterations: r.state.iterations, converged: r.state.converged, sizes };
}

const [mode, path, raw] = process.argv.slice(2);
const o = JSON.parse(raw ?? "{}") as Options;
if (!path) throw new Error("usage: personas.mjs <generate|chunked|plain> <db> <options JSON>");
if (mode === "generate") {
  const t0 = performance.now();
  generate(path, o);
  console.log(JSON.stringify({ seconds: (performance.now() - t0) / 1000 }));
} else if (mode === "chunked") console.log(JSON.stringify(chunked(path, o)));
else if (mode === "plain") console.log(JSON.stringify(plain(path, o)));
else throw new Error(`unknown mode ${mode}`);
