// Personas: the recompute of a segment of N users x 40 traits (k = 4) as the chain runs it — passes
// over keyset chunks of 5,000 vectors read from a SQLite file shaped like the shard's working
// table, the k-means state checkpointed as JSON every 10 chunks (one queue message), membership
// written in chunks — next to a plain in-process k-means over the same rows (all of them in
// memory, the same algorithm) in the same run. Each variant runs in its own process, so its peak
// RSS is its own. Both must find the same personas. Sizes: 100k and 1M users (`--quick`: 20k).
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { QUICK, ROOT, record, round } from "../lib/harness.mjs";

const SIZES = QUICK ? [20_000] : (process.env.PERSONAS_SIZES ?? "100000,1000000").split(",").map(Number);
const DIMS = 40;
const K = 4;

const out = join(ROOT, ".wrangler", "bench", "personas.mjs");
mkdirSync(join(ROOT, ".wrangler", "bench"), { recursive: true });
await build({ entryPoints: [join(ROOT, "bench", "personas", "bench.ts")], bundle: true, platform: "node", format: "esm", outfile: out, logLevel: "error" });

/**
 * The chunked recompute runs with V8's heap capped at 128 MB, a Worker isolate's memory limit
 * (https://developers.cloudflare.com/workers/platform/limits/#memory): it must fit there. The
 * in-memory baseline runs uncapped (at 1M users it would not fit).
 */
function child(mode, db, opts, flags = []) {
  const r = spawnSync(process.execPath, ["--disable-warning=ExperimentalWarning", "--expose-gc", ...flags, out, mode, db, JSON.stringify(opts)], {
    encoding: "utf8",
    maxBuffer: 1 << 20,
    timeout: 60 * 60_000,
  });
  if (r.status !== 0) throw new Error(`${mode} failed: ${r.stderr || r.error}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1));
}

const work = mkdtempSync(join(tmpdir(), "ferry-bench-personas-"));
const rows = [];
const results = [];
try {
  for (const users of SIZES) {
    const label = users >= 1_000_000 ? `${users / 1_000_000}M` : `${users / 1000}k`;
    const db = join(work, `vectors-${users}.sqlite`);
    const opts = { users, dims: DIMS, k: K, chunk: 5000, perLink: 10 };
    const gen = child("generate", db, opts);
    console.log(`generated ${users} users x ${DIMS} traits in ${round(gen.seconds, 1)} s`);
    const chunked = child("chunked", db, opts, ["--max-old-space-size=128"]);
    console.log(`chunked: ${JSON.stringify(chunked)}`);
    const plain = child("plain", db, opts);
    console.log(`plain:   ${JSON.stringify(plain)}`);
    if (JSON.stringify(chunked.sizes) !== JSON.stringify(plain.sizes)) {
      throw new Error(`the chunked recompute found personas of ${chunked.sizes}, the in-memory one ${plain.sizes}`);
    }
    results.push({ users, dims: DIMS, k: K, chunked, plain });
    rows.push(
      {
        metric: `${label} users x ${DIMS} traits: recompute time`,
        value: round(chunked.seconds, 1),
        unit: "s",
        baseline: `in memory ${round(plain.seconds, 1)} s`,
        ratio: round(chunked.seconds / plain.seconds, 2),
      },
      {
        metric: `${label} users x ${DIMS} traits: peak RSS (chunked: V8 heap capped at 128 MB)`,
        value: round(chunked.peakRssMiB),
        unit: "MiB",
        baseline: `in memory ${round(plain.peakRssMiB)} MiB`,
        ratio: round(chunked.peakRssMiB / plain.peakRssMiB, 2),
      },
      {
        metric: `${label} users x ${DIMS} traits: live heap (after GC)`,
        value: round(chunked.liveHeapMiB),
        unit: "MiB",
        baseline: `in memory ${round(plain.liveHeapMiB)} MiB`,
        ratio: round(chunked.liveHeapMiB / plain.liveHeapMiB, 2),
      },
      {
        metric: `${label}: passes / queue messages / k-means iterations`,
        value: `${chunked.passes} / ${chunked.links} / ${chunked.iterations}${chunked.converged ? "" : " (not converged)"}`,
        unit: "",
        baseline: `in memory ${plain.iterations} iterations`,
      },
      { metric: `${label}: persona sizes (same in both)`, value: chunked.sizes.join(" / "), unit: "" },
    );
  }
  if (results.length > 1) {
    const [a, b] = [results[0], results.at(-1)];
    const growth = round(b.chunked.peakRssMiB - a.chunked.peakRssMiB);
    rows.push({
      metric: `chunked peak RSS growth ${a.users} -> ${b.users} users`,
      value: growth,
      unit: "MiB",
      baseline: `in memory ${round(b.plain.peakRssMiB - a.plain.peakRssMiB)} MiB`,
      target: "flat (< 64 MiB growth for 10x users)",
      met: growth < 64,
    });
  }
  record("personas", { results, rows });
} finally {
  rmSync(work, { recursive: true, force: true });
}
