// Formatting + compression throughput in CPU time, no D1/R2: bundled and run by run.mjs.
import { compressorFor } from "../../src/exports/compress";
import { ExportBody } from "../../src/exports/definition";
import { formatterFor } from "../../src/exports/format";
import type { FormatterState, Row } from "../../src/exports/types";

const COLUMNS = ["row_id", "timestamp", "user_id", "action_id", "action_name", "level", "price", "note"];

function makeRows(n: number): Row[] {
  return Array.from({ length: n }, (_, i) => ({
    row_id: i,
    timestamp: `2026-11-${String(1 + (i % 28)).padStart(2, "0")} 12:${String(i % 60).padStart(2, "0")}:00`,
    user_id: `user_${i % 5000}`,
    action_id: `act_${i % 37}`,
    action_name: i % 3 ? "login" : 'bought "sword", 🗡',
    level: i % 100,
    price: (i % 1000) / 4,
    note: i % 7 ? null : "=cmd|' /C calc'!A0",
  }));
}

export interface Measure {
  config: string;
  rowsPerCpuSecond: number;
  formattedMBPerCpuSecond: number;
  formattedMB: number;
  outputMB: number;
  stateBytes: number;
}

/** One export of `rows` in calls of `chunk` rows; CPU seconds of this process (user + system). */
function once(type: string, compression: string, rows: Row[], chunk: number): Measure {
  const def = ExportBody.parse({ name: "bench", model: "actions", format: { type }, compression });
  const fs: FormatterState = {};
  const cs: FormatterState = {};
  const c0 = process.cpuUsage();
  const f = formatterFor(def, COLUMNS);
  const c = compressorFor(def, `bench.${f.extension}`);
  let formatted = 0;
  let out = c.start(cs).length;
  const push = (b: Uint8Array) => {
    formatted += b.length;
    out += c.push(b, cs).length;
  };
  push(f.start(fs));
  for (let i = 0; i < rows.length; i += chunk) push(f.rows(rows.slice(i, i + chunk), fs));
  push(f.finish(fs));
  out += c.finish(cs).length;
  const cu = process.cpuUsage(c0);
  const s = (cu.user + cu.system) / 1e6;
  return {
    config: compression === "none" ? type : `${type}+${compression}`,
    rowsPerCpuSecond: Math.round(rows.length / s),
    formattedMBPerCpuSecond: Math.round((formatted / 1e6 / s) * 10) / 10,
    formattedMB: Math.round(formatted / 1e5) / 10,
    outputMB: Math.round(out / 1e5) / 10,
    stateBytes: JSON.stringify(fs).length + JSON.stringify(cs).length,
  };
}

export function run(n: number, chunk: number): Measure[] {
  const rows = makeRows(n);
  const configs = [
    ["csv", "none"],
    ["json", "none"],
    ["ndjson", "none"],
    ["xml", "none"],
    ["parquet", "none"],
    ["csv", "gzip"],
    ["csv", "zip"],
  ] as const;
  // best of 3 (the first run of each also warms the JIT)
  return configs.map(([t, c]) => {
    const runs = [once(t, c, rows, chunk), once(t, c, rows, chunk), once(t, c, rows, chunk)];
    return runs.reduce((a, b) => (b.rowsPerCpuSecond > a.rowsPerCpuSecond ? b : a));
  });
}
