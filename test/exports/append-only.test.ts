import { describe, expect, it } from "vitest";
import { compileExport } from "../../src/exports/compiler";
import type { Row } from "../../src/exports/types";
import { body, freshTenant, insertRows, runAll } from "./support";

/**
 * Exports over an event table without a per-user index (migrations/data/0004_append_only_events):
 * a per-user filter and incremental windows still give exactly the right rows, and the chunk
 * query walks the tenant's time index rather than the whole table.
 */

const users = ["alice", "bob", "carol"];
const wave = (n: number, hour: number) =>
  Array.from({ length: n }, (_, i) => ({
    timestamp: `2026-01-0${1 + (i % 3)} ${String(hour).padStart(2, "0")}:00:00`,
    user_id: users[i % users.length],
    action_id: `a${hour}-${i}`,
    action_name: "buy_item",
  }));

async function seeded() {
  const td = await freshTenant("append-only");
  const other = await freshTenant("append-only-other");
  await insertRows(td, "actions", wave(30, 10), 1000);
  await insertRows(td, "actions", wave(30, 11), 2000);
  await insertRows(other, "actions", wave(30, 10), 1000);
  return td;
}

const ids = (rows: Row[]) => rows.map((r) => r.action_id);
const expected = (filter: (r: ReturnType<typeof wave>[number]) => boolean, ...waves: ReturnType<typeof wave>[]) =>
  waves
    .flat()
    .filter(filter)
    .sort((a, b) => a.timestamp.localeCompare(b.timestamp))
    .map((r) => r.action_id);

describe("exports on append-only event tables", () => {
  it("a per-user filter gives exactly that user's rows, in time order, across chunks", async () => {
    const td = await seeded();
    const now = new Date("2026-02-01T00:00:00Z");
    const def = body({ model: "actions", fields: [{ from: "user_id" }, { from: "action_id" }, { from: "timestamp" }] });
    const one = compileExport({ ...def, filters: [[{ field: "user_id", op: "eq", value: "alice" }]] }, { tenantId: td.tenantId, now });
    const got = await runAll(one, td, 4);
    expect(got.rows.every((r) => r.user_id === "alice")).toBe(true);
    expect(ids(got.rows).sort()).toEqual(expected((r) => r.user_id === "alice", wave(30, 10), wave(30, 11)).sort());
    expect(got.rows.map((r) => r.timestamp)).toEqual([...got.rows.map((r) => r.timestamp)].sort());
    expect(got.statements.length).toBeGreaterThan(2);

    const two = compileExport({ ...def, filters: [[{ field: "user_id", op: "in", value: ["bob", "carol"] }]] }, { tenantId: td.tenantId, now });
    expect((await runAll(two, td, 7)).rows).toHaveLength(40);

    // The chunk query reads the tenant's time index, not the whole table.
    const q = one.chunk(null, 4);
    const plan = await td.db.prepare(`EXPLAIN QUERY PLAN ${q.sql}`).bind(...q.params).all<{ detail: string }>();
    const detail = plan.results.map((r) => r.detail).join("\n");
    expect(detail).toMatch(/actions_tenant_time/);
    expect(detail).not.toMatch(/SCAN (t|actions)\b(?! USING)/);
  });

  it("incremental windows over ingestion time tile the rows, a user filter included", async () => {
    const td = await seeded();
    const now = new Date("2026-02-01T00:00:00Z");
    const def = body({ model: "actions", fields: [{ from: "action_id" }, { from: "user_id" }] });
    const first = compileExport(def, { tenantId: td.tenantId, now, watermark: { until: 1000 } });
    const second = compileExport(def, { tenantId: td.tenantId, now, watermark: { after: 1000, until: 2000 } });
    const third = compileExport(def, { tenantId: td.tenantId, now, watermark: { after: 2000, until: 3000 } });
    expect(ids((await runAll(first, td, 8)).rows).sort()).toEqual(wave(30, 10).map((r) => r.action_id).sort());
    expect(ids((await runAll(second, td, 8)).rows).sort()).toEqual(wave(30, 11).map((r) => r.action_id).sort());
    expect((await runAll(third, td, 8)).rows).toEqual([]);

    const bobLater = compileExport(
      { ...def, filters: [[{ field: "user_id", op: "eq", value: "bob" }]] },
      { tenantId: td.tenantId, now, watermark: { after: 1000, until: 2000 } },
    );
    expect(ids((await runAll(bobLater, td, 3)).rows).sort()).toEqual(expected((r) => r.user_id === "bob", wave(30, 11)).sort());
  });
});
