// Purchase rows for the bucket benchmarks (bench/bucket-ingest, bench/soak): row k is the same in
// every format, so a count or a key names it wherever it landed.
import { parquetWriteBuffer } from "hyparquet-writer";
import { round } from "./harness.mjs";

const ts = (k) => `2026-11-${String(1 + (k % 28)).padStart(2, "0")} ${String(k % 24).padStart(2, "0")}:${String(k % 60).padStart(2, "0")}:00`;

/** Purchase k as a `purchases` item of the model catalog. */
export const purchase = (k) => ({ timestamp: ts(k), user_id: `u${k % 100_000}`, item_id: `item-${k % 97}`, count: 1 + (k % 5), price: round(0.99 + (k % 1000) / 10, 2), platform: "steam" });

/** Purchases `from` .. `from + n - 1` as NDJSON. */
export function purchasesNdjson(from, n) {
  const lines = new Array(n);
  for (let i = 0; i < n; i++) lines[i] = JSON.stringify(purchase(from + i));
  return `${lines.join("\n")}\n`;
}

/** Purchases `from` .. `from + n - 1` as a Parquet file (hyparquet-writer) in row groups of `rowGroup` rows. */
export function purchasesParquet(from, n, rowGroup) {
  const rows = Array.from({ length: n }, (_, i) => purchase(from + i));
  const column = (name, type) => ({ name, data: rows.map((r) => r[name]), type });
  return new Uint8Array(
    parquetWriteBuffer({
      columnData: [column("timestamp", "STRING"), column("user_id", "STRING"), column("item_id", "STRING"), column("count", "INT32"), column("price", "DOUBLE"), column("platform", "STRING")],
      rowGroupSize: rowGroup,
    }),
  );
}
