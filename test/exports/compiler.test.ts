import { describe, expect, it } from "vitest";
import { compileExport, ExportValidationError, validateExport } from "../../src/exports/compiler";
import type { Row } from "../../src/exports/types";
import { body, countAll, freshTenant, insertRows, runAll } from "./support";

const HOSTILE = [
  "' OR 1=1 --",
  "'; DROP TABLE logins; --",
  "%",
  "_",
  "a%b",
  "a_b",
  "axb",
  "aXb",
  '"quoted"',
  "it's",
  "100%",
  "back\\slash",
  "Zoë",
  "ZOË",
  "日本語",
  "🚀 launch",
  "",
  null,
];

interface Login {
  timestamp: string | null;
  user_id: string;
  clan_id: string | null;
  level: number | null;
  device: string | null;
  register_date: string | null;
}

function loginRows(): Login[] {
  const rows: Login[] = [];
  for (let i = 0; i < 60; i++) {
    rows.push({
      // Few distinct timestamps and some nulls: keyset paging must not lose or repeat rows.
      timestamp: i % 7 === 0 ? null : `2026-03-0${1 + (i % 3)} 10:00:00`,
      user_id: `u${String(i).padStart(3, "0")}`,
      clan_id: HOSTILE[i % HOSTILE.length] ?? null,
      level: i % 5 === 0 ? null : i,
      device: i % 2 ? "iPhone X" : "Pixel",
      register_date: i % 4 === 0 ? null : `2026-02-${String(1 + (i % 28)).padStart(2, "0")}`,
    });
  }
  return rows;
}

const lowerAscii = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
const empty = (v: unknown) => v === null || v === "";

type Case = { name: string; filters: unknown[][]; expect: (r: Login) => boolean };

const cases: Case[] = [
  { name: "eq hostile", filters: [[{ field: "clan_id", op: "eq", value: "' OR 1=1 --" }]], expect: (r) => r.clan_id === "' OR 1=1 --" },
  { name: "eq percent", filters: [[{ field: "clan_id", op: "eq", value: "%" }]], expect: (r) => r.clan_id === "%" },
  { name: "eq is case sensitive", filters: [[{ field: "clan_id", op: "eq", value: "Zoë" }]], expect: (r) => r.clan_id === "Zoë" },
  { name: "neq keeps empty", filters: [[{ field: "clan_id", op: "neq", value: "axb" }]], expect: (r) => r.clan_id !== "axb" },
  { name: "contains %", filters: [[{ field: "clan_id", op: "contains", value: "%" }]], expect: (r) => (r.clan_id ?? "").includes("%") },
  { name: "contains _", filters: [[{ field: "clan_id", op: "contains", value: "_" }]], expect: (r) => (r.clan_id ?? "").includes("_") },
  {
    name: "contains quote",
    filters: [[{ field: "clan_id", op: "contains", value: "'" }]],
    expect: (r) => (r.clan_id ?? "").includes("'"),
  },
  {
    name: "contains backslash",
    filters: [[{ field: "clan_id", op: "contains", value: "\\" }]],
    expect: (r) => (r.clan_id ?? "").includes("\\"),
  },
  {
    name: "contains is ASCII case-insensitive",
    filters: [[{ field: "clan_id", op: "contains", value: "AXB" }]],
    expect: (r) => lowerAscii(r.clan_id ?? "").includes("axb"),
  },
  { name: "contains unicode", filters: [[{ field: "clan_id", op: "contains", value: "本" }]], expect: (r) => (r.clan_id ?? "").includes("本") },
  {
    name: "not_contains keeps empty",
    filters: [[{ field: "clan_id", op: "not_contains", value: "a" }]],
    expect: (r) => !lowerAscii(r.clan_id ?? "").includes("a"),
  },
  { name: "starts_with", filters: [[{ field: "clan_id", op: "starts_with", value: "a_" }]], expect: (r) => (r.clan_id ?? "").startsWith("a_") },
  { name: "ends_with", filters: [[{ field: "clan_id", op: "ends_with", value: "%" }]], expect: (r) => (r.clan_id ?? "").endsWith("%") },
  { name: "is_empty", filters: [[{ field: "clan_id", op: "is_empty" }]], expect: (r) => empty(r.clan_id) },
  { name: "is_not_empty", filters: [[{ field: "clan_id", op: "is_not_empty" }]], expect: (r) => !empty(r.clan_id) },
  {
    name: "in with hostile values",
    filters: [[{ field: "clan_id", op: "in", value: ["' OR 1=1 --", "_", "日本語", "nope"] }]],
    expect: (r) => ["' OR 1=1 --", "_", "日本語"].includes(r.clan_id ?? "\u0000"),
  },
  {
    name: "not_in keeps empty",
    filters: [[{ field: "clan_id", op: "not_in", value: ["%", "axb"] }]],
    expect: (r) => !["%", "axb"].includes(r.clan_id ?? "\u0000"),
  },
  { name: "gt", filters: [[{ field: "level", op: "gt", value: 40 }]], expect: (r) => r.level !== null && r.level > 40 },
  { name: "gte numeric string", filters: [[{ field: "level", op: "gte", value: "41" }]], expect: (r) => r.level !== null && r.level >= 41 },
  { name: "lt", filters: [[{ field: "level", op: "lt", value: 5 }]], expect: (r) => r.level !== null && r.level < 5 },
  { name: "lte", filters: [[{ field: "level", op: "lte", value: 3 }]], expect: (r) => r.level !== null && r.level <= 3 },
  {
    name: "between",
    filters: [[{ field: "level", op: "between", value: [10, 20] }]],
    expect: (r) => r.level !== null && r.level >= 10 && r.level <= 20,
  },
  { name: "in numbers", filters: [[{ field: "level", op: "in", value: [1, 2, 3, 58] }]], expect: (r) => [1, 2, 3, 58].includes(r.level ?? -1) },
  { name: "level is_empty", filters: [[{ field: "level", op: "is_empty" }]], expect: (r) => r.level === null },
  {
    name: "date field between",
    filters: [[{ field: "register_date", op: "between", value: ["2026-02-05", "2026-02-10"] }]],
    expect: (r) => r.register_date !== null && r.register_date >= "2026-02-05" && r.register_date <= "2026-02-10",
  },
  {
    name: "timestamp eq",
    filters: [[{ field: "timestamp", op: "eq", value: "2026-03-02 10:00:00" }]],
    expect: (r) => r.timestamp === "2026-03-02 10:00:00",
  },
  {
    name: "AND inside a set, OR between sets",
    filters: [
      [
        { field: "device", op: "eq", value: "Pixel" },
        { field: "level", op: "gt", value: 30 },
      ],
      [{ field: "clan_id", op: "eq", value: "it's" }],
    ],
    expect: (r) => (r.device === "Pixel" && r.level !== null && r.level > 30) || r.clan_id === "it's",
  },
];

const byUser = (a: Row, b: Row) => String(a.user_id).localeCompare(String(b.user_id));

describe("filter compiler against D1", () => {
  it("every operator returns exactly the rows an independent JS filter picks", async () => {
    const td = await freshTenant();
    const other = await freshTenant("other");
    const data = loginRows();
    await insertRows(td, "logins", data as unknown as Record<string, unknown>[]);
    // Another tenant with rows that match everything: never returned.
    await insertRows(other, "logins", data as unknown as Record<string, unknown>[]);
    if (other.db !== td.db) await insertRows({ ...other, db: td.db }, "logins", data as unknown as Record<string, unknown>[]);

    for (const c of cases) {
      const compiler = compileExport(body({ model: "logins", fields: [{ from: "user_id" }, { from: "clan_id" }], filters: c.filters }), {
        tenantId: td.tenantId,
        now: new Date("2026-03-10T00:00:00Z"),
      });
      const { rows, statements } = await runAll(compiler, td, 7);
      const want = data.filter(c.expect).map((r) => ({ user_id: r.user_id, clan_id: r.clan_id }));
      expect([...rows].sort(byUser), c.name).toEqual(want.sort(byUser));
      expect(want.length, `${c.name} selects something`).toBeGreaterThan(0);
      // the progress count: the same rows, counted without building them
      expect(await countAll(compiler, td), c.name).toBe(want.length);
      for (const s of statements) {
        for (const h of HOSTILE) if (h && h.length > 1) expect(s.sql).not.toContain(h);
        expect(s.params.length).toBeLessThanOrEqual(100);
      }
    }
  });

  it("keyset paging over duplicate and null timestamps loses and repeats nothing, at any chunk size", async () => {
    const td = await freshTenant();
    const data = loginRows();
    await insertRows(td, "logins", data as unknown as Record<string, unknown>[]);
    const compiler = compileExport(body({ model: "logins", fields: [{ from: "user_id" }, { from: "timestamp", to: "ts" }] }), {
      tenantId: td.tenantId,
      now: new Date(),
    });
    for (const limit of [1, 2, 3, 7, 59, 60, 61, 1000]) {
      const { rows, statements } = await runAll(compiler, td, limit);
      expect(rows.map((r) => r.user_id).sort()).toEqual(data.map((r) => r.user_id).sort());
      expect(new Set(rows.map((r) => r.user_id)).size).toBe(data.length);
      expect(statements.length).toBe(Math.floor(data.length / limit) + 1);
      // Ordered by time (NULL first), then insertion order.
      const ts = rows.map((r) => r.ts as string | null);
      const sorted = [...ts].sort((a, b) => (a === b ? 0 : a === null ? -1 : b === null ? 1 : a < b ? -1 : 1));
      expect(ts).toEqual(sorted);
      expect(Object.keys(rows[0] ?? {})).toEqual(["user_id", "ts"]);
    }
  });

  it("fields: to, default, replace maps (in SQL), all_fields", async () => {
    const td = await freshTenant();
    const data = loginRows();
    await insertRows(td, "logins", data as unknown as Record<string, unknown>[]);
    const compiler = compileExport(
      body({
        model: "logins",
        fields: [
          { from: "user_id", to: "User" },
          { from: "clan_id", to: "Clan", default: "none", replace: [{ value: "%", with: "percent" }, { value: "' OR 1=1 --", with: "hostile" }] },
          { from: "level", default: -1, replace: [{ value: 1, with: "one" }, { value: "2", with: null }] },
          { from: "device", replace: [{ value: "Pixel", with: "Google" }] },
        ],
      }),
      { tenantId: td.tenantId, now: new Date() },
    );
    expect(compiler.columns).toEqual(["User", "Clan", "level", "device"]);
    // level gets "one" from a replace map: no longer a pure integer column.
    expect(compiler.types).toEqual({ User: "string", Clan: "string", level: "string", device: "string" });
    const { rows } = await runAll(compiler, td, 13);
    const want = data.map((r) => ({
      User: r.user_id,
      Clan: r.clan_id === "%" ? "percent" : r.clan_id === "' OR 1=1 --" ? "hostile" : empty(r.clan_id) ? "none" : r.clan_id,
      level: r.level === 1 ? "one" : r.level === 2 || r.level === null ? -1 : r.level,
      device: r.device === "Pixel" ? "Google" : r.device,
    }));
    const key = (a: Row, b: Row) => String(a.User).localeCompare(String(b.User));
    expect([...rows].sort(key)).toEqual(want.sort(key));

    const all = compileExport(body({ model: "logins", all_fields: true, fields: [{ from: "device", to: "Device" }] }), {
      tenantId: td.tenantId,
      now: new Date(),
    });
    expect(all.columns).toEqual([
      "timestamp",
      "user_id",
      "clan_id",
      "level",
      "Device",
      "country",
      "platform",
      "language",
      "register_date",
      "last_login_timestamp",
    ]);
    expect(all.types).toMatchObject({ level: "integer", timestamp: "string", Device: "string" });
    const allRows = (await runAll(all, td, 1000)).rows;
    expect(allRows).toHaveLength(data.length);
    const u5 = allRows.find((r) => r.user_id === "u005");
    expect(u5).toMatchObject({ clan_id: HOSTILE[5], Device: "iPhone X", level: null, country: null });
  });

  it("nested params: action_params.key filter and column, key bound as a parameter", async () => {
    const td = await freshTenant();
    const rows = Array.from({ length: 40 }, (_, i) => ({
      timestamp: "2026-01-01 00:00:00",
      user_id: `u${String(i).padStart(2, "0")}`,
      action_id: "a",
      action_name: "fight",
      action_params: JSON.stringify({ enemy_id: i % 3 === 0 ? "orc" : `troll-${i}`, "odd.key": i % 2 ? "y" : "n", "it's": "q", 'say "hi"\\': `dq${i % 4}`, n: i }),
    }));
    rows.push({ timestamp: "2026-01-01 00:00:00", user_id: "u99", action_id: "a", action_name: "idle", action_params: null as unknown as string });
    await insertRows(td, "actions", rows);
    const compiler = compileExport(
      body({
        model: "actions",
        fields: [{ from: "user_id" }, { from: "action_params.enemy_id", to: "enemy" }, { from: "action_params.it's", to: "q" }, { from: 'action_params.say "hi"\\', to: "dq" }],
        filters: [
          [
            { field: "action_params.enemy_id", op: "starts_with", value: "troll" },
            { field: "action_params.odd.key", op: "eq", value: "y" },
          ],
          [{ field: "action_params.n", op: "in", value: ["3", "6"] }],
          [{ field: 'action_params.say "hi"\\', op: "eq", value: "dq1" }],
          [{ field: "action_params", op: "is_empty" }],
        ],
      }),
      { tenantId: td.tenantId, now: new Date() },
    );
    const { rows: out, statements } = await runAll(compiler, td, 4);
    const want = rows
      .filter((r) => {
        if (r.action_params === null) return true;
        const p = JSON.parse(r.action_params);
        return (String(p.enemy_id).startsWith("troll") && p["odd.key"] === "y") || ["3", "6"].includes(String(p.n)) || p['say "hi"\\'] === "dq1";
      })
      .map((r) => {
        const p = r.action_params ? JSON.parse(r.action_params) : null;
        return { user_id: r.user_id, enemy: p?.enemy_id ?? null, q: p ? "q" : null, dq: p?.['say "hi"\\'] ?? null };
      });
    expect(out.sort(byUser)).toEqual(want.sort(byUser));
    expect(out.length).toBeGreaterThan(5);
    expect(statements[0]?.sql).not.toContain("enemy_id");
    expect(statements[0]?.params).toContain('$."enemy_id"');
  });

  it("date: expressions are evaluated in the export's time zone", async () => {
    const td = await freshTenant();
    // now = 2026-03-09 02:00 UTC = 2026-03-08 22:00 in New York, the day DST began (a 23-hour day):
    // today = 2026-03-08 00:00 EST = 05:00Z, tomorrow = 2026-03-09 00:00 EDT = 04:00Z.
    const now = new Date("2026-03-09T02:00:00Z");
    const stamps = ["2026-03-08 04:59:59", "2026-03-08 05:00:00", "2026-03-08 23:00:00", "2026-03-09 03:59:59", "2026-03-09 04:00:00"];
    await insertRows(
      td,
      "logins",
      stamps.map((timestamp, i) => ({ timestamp, user_id: `u${i}` })),
    );
    const run = async (tz: string, filters: unknown[][]) =>
      (
        await runAll(compileExport(body({ model: "logins", timezone: tz, fields: [{ from: "timestamp" }], filters }), { tenantId: td.tenantId, now }), td)
      ).rows.map((r) => r.timestamp);
    const today = [[{ field: "timestamp", op: "gte", value: "date:today" }, { field: "timestamp", op: "lt", value: "date:tomorrow" }]];
    expect(await run("America/New_York", today)).toEqual(["2026-03-08 05:00:00", "2026-03-08 23:00:00", "2026-03-09 03:59:59"]);
    // In UTC "today" is 9 March; in Tokyo (UTC+9) it is 9 March 00:00 JST = 8 March 15:00Z.
    expect(await run("UTC", today)).toEqual(["2026-03-09 03:59:59", "2026-03-09 04:00:00"]);
    expect(await run("Asia/Tokyo", today)).toEqual(["2026-03-08 23:00:00", "2026-03-09 03:59:59", "2026-03-09 04:00:00"]);
    // Naive literals are wall-clock time in the export's zone: 2026-03-08 14:00 in Tokyo = 05:00Z.
    expect(await run("Asia/Tokyo", [[{ field: "timestamp", op: "lt", value: "2026-03-08 14:00" }]])).toEqual(["2026-03-08 04:59:59"]);
    expect(await run("UTC", [[{ field: "timestamp", op: "lt", value: "2026-03-08T14:00:00+09:00" }]])).toEqual(["2026-03-08 04:59:59"]);
  });

  it("booleans, floats, hostile column names", async () => {
    const td = await freshTenant();
    const data = Array.from({ length: 30 }, (_, i) => ({
      user_id: `u${String(i).padStart(2, "0")}`,
      stackinstanceid: "s1",
      value: i * 10,
      has_won: i % 3 === 0 ? null : i % 2,
      participation_date: "2026-01-01 00:00:00",
    }));
    await insertRows(td, "participations", data);
    const run = async (filters: unknown[][], fields: unknown[] = [{ from: "user_id" }]) =>
      (await runAll(compileExport(body({ model: "participations", fields, filters }), { tenantId: td.tenantId, now: new Date() }), td)).rows;
    const ids = (rows: Row[]) => rows.map((r) => r.user_id);
    const want = (f: (r: (typeof data)[number]) => boolean) => data.filter(f).map((r) => r.user_id);
    expect(ids(await run([[{ field: "has_won", op: "eq", value: true }]]))).toEqual(want((r) => r.has_won === 1));
    expect(ids(await run([[{ field: "has_won", op: "eq", value: "0" }]]))).toEqual(want((r) => r.has_won === 0));
    expect(ids(await run([[{ field: "has_won", op: "neq", value: 1 }]]))).toEqual(want((r) => r.has_won !== 1));
    expect(ids(await run([[{ field: "has_won", op: "is_empty" }]]))).toEqual(want((r) => r.has_won === null));
    expect(ids(await run([[{ field: "value", op: "between", value: ["55", 120] }]]))).toEqual(want((r) => r.value >= 55 && r.value <= 120));
    expect(ids(await run([[{ field: "value", op: "not_in", value: [0, 10, 20] }]]))).toEqual(want((r) => ![0, 10, 20].includes(r.value)));
    const names = ['a"b', "it's", "x; DROP TABLE participations; --", "Zoë 日本"];
    const rows = await run(
      [[{ field: "value", op: "lt", value: 20 }]],
      names.map((to) => ({ from: "user_id", to })),
    );
    expect(rows).toEqual(want((r) => r.value < 20).map((u) => Object.fromEntries(names.map((n) => [n, u]))));
    expect((await td.db.prepare("SELECT count(*) AS n FROM participations").first<{ n: number }>())?.n).toBeGreaterThanOrEqual(30);
  });

  it("date fields compare with the local calendar day of a date: expression", async () => {
    const td = await freshTenant();
    const days = ["2026-03-07", "2026-03-08", "2026-03-09", "2026-03-10"];
    await insertRows(td, "logins", days.map((register_date, i) => ({ user_id: `u${i}`, register_date, timestamp: "2026-03-01 00:00:00" })));
    const now = new Date("2026-03-09T02:00:00Z");
    const run = async (tz: string, op: string, value: unknown) =>
      (
        await runAll(
          compileExport(body({ model: "logins", timezone: tz, fields: [{ from: "register_date" }], filters: [[{ field: "register_date", op, value }]] }), {
            tenantId: td.tenantId,
            now,
          }),
          td,
        )
      ).rows.map((r) => r.register_date);
    expect(await run("Asia/Tokyo", "eq", "date:today")).toEqual(["2026-03-09"]);
    expect(await run("America/New_York", "eq", "date:today")).toEqual(["2026-03-08"]);
    expect(await run("America/New_York", "between", ["date:yesterday", "date:tomorrow"])).toEqual(["2026-03-07", "2026-03-08", "2026-03-09"]);
    expect(await run("UTC", "lt", "date:start of week")).toEqual(["2026-03-07", "2026-03-08"]);
    expect(await run("UTC", "neq", "2026-03-09")).toEqual(["2026-03-07", "2026-03-08", "2026-03-10"]);
  });

  it("watermark limits rows to those ingested after / until", async () => {
    const td = await freshTenant();
    for (const at of [100, 200, 300]) await insertRows(td, "logins", [{ timestamp: "2026-01-01 00:00:00", user_id: `at${at}` }], at);
    const c = (wm: { after?: number; until?: number }) =>
      compileExport(body({ model: "logins", fields: [{ from: "user_id" }] }), { tenantId: td.tenantId, now: new Date(), watermark: wm });
    expect((await runAll(c({ after: 100 }), td)).rows.map((r) => r.user_id)).toEqual(["at200", "at300"]);
    expect((await runAll(c({ after: 100, until: 200 }), td)).rows.map((r) => r.user_id)).toEqual(["at200"]);
    expect((await runAll(c({ until: 100 }), td)).rows.map((r) => r.user_id)).toEqual(["at100"]);
    expect([await countAll(c({ after: 100 }), td), await countAll(c({ after: 100, until: 200 }), td), await countAll(c({}), td)]).toEqual([2, 1, 3]);
  });
});

describe("aggregation", () => {
  it("group / count / sum / avg / min / max pushed to SQL, keyset on groups with nulls", async () => {
    const td = await freshTenant();
    const data = Array.from({ length: 90 }, (_, i) => ({
      timestamp: `2026-01-${String(1 + (i % 20)).padStart(2, "0")} 00:00:00`,
      user_id: `u${i % 7}`,
      item_id: "sword",
      count: 1 + (i % 4),
      price: 0.5 * (i % 9),
      platform: i % 5 === 0 ? null : i % 2 ? "ios" : "android",
    }));
    data.push({ timestamp: "2026-02-01 00:00:00", user_id: "solo", item_id: "shield", count: 3, price: 2.25, platform: "web" });
    await insertRows(td, "purchases", data);
    const compiler = compileExport(
      body({
        model: "purchases",
        aggregate: true,
        fields: [
          { from: "user_id", aggregation: "group" },
          { from: "platform", aggregation: "group", default: "unknown" },
          { from: "item_id", to: "n", aggregation: "count", replace: [{ value: "1", with: 100 }] },
          { from: "count", to: "items", aggregation: "sum" },
          { from: "price", to: "avg_price", aggregation: "avg" },
          { from: "price", to: "min_price", aggregation: "min" },
          { from: "timestamp", to: "last", aggregation: "max" },
        ],
        filters: [[{ field: "count", op: "gte", value: 2 }]],
      }),
      { tenantId: td.tenantId, now: new Date() },
    );
    expect(compiler.types).toEqual({ user_id: "string", platform: "string", n: "integer", items: "integer", avg_price: "float", min_price: "float", last: "string" });
    const { rows } = await runAll(compiler, td, 2);
    const groups = new Map<string, typeof data>();
    for (const r of data.filter((r) => r.count >= 2)) {
      const k = JSON.stringify([r.user_id, r.platform]);
      groups.set(k, [...(groups.get(k) ?? []), r]);
    }
    const want = [...groups.entries()].map(([k, rs]) => {
      const [user_id, platform] = JSON.parse(k);
      return {
        user_id,
        platform: platform ?? "unknown",
        n: rs.length === 1 ? 100 : rs.length,
        items: rs.reduce((s, r) => s + r.count, 0),
        avg_price: rs.reduce((s, r) => s + r.price, 0) / rs.length,
        min_price: Math.min(...rs.map((r) => r.price)),
        last: rs.map((r) => r.timestamp).sort().at(-1) ?? null,
      };
    });
    const key = (r: Row) => `${r.user_id}|${r.platform}`;
    const sortK = (a: Row, b: Row) => key(a).localeCompare(key(b));
    expect(rows).toHaveLength(want.length);
    // the progress count counts groups, not the rows grouped
    expect(await countAll(compiler, td)).toBe(want.length);
    expect(rows.find((r) => r.user_id === "solo")).toMatchObject({ n: 100, items: 3, platform: "web" });
    const got = [...rows].sort(sortK);
    want.sort(sortK).forEach((w, i) => {
      const g = got[i] as Row;
      expect({ ...g, avg_price: undefined }).toEqual({ ...w, avg_price: undefined });
      expect(g.avg_price as number).toBeCloseTo(w.avg_price, 9);
    });
  });

  it("rejects aggregation without a group field, all_fields with aggregation, bad aggregations", () => {
    const issues = validateExport(
      body({ model: "purchases", aggregate: true, all_fields: true, fields: [{ from: "price", aggregation: "sum" }, { from: "item_id", aggregation: "avg" }, { from: "count" }] }),
    );
    const paths = issues.map((i) => i.path);
    expect(paths).toContain("all_fields");
    expect(paths).toContain("fields");
    expect(paths).toContain("fields.1.aggregation");
    expect(paths).toContain("fields.2.aggregation");
    expect(issues.find((i) => i.path === "fields")?.message).toMatch(/group/);
  });
});

describe("validation", () => {
  const v = (b: Record<string, unknown>) => validateExport(body({ model: "logins", fields: [{ from: "user_id" }], ...b }));

  it("names the offending part", () => {
    expect(validateExport(body({ model: "nope", fields: [{ from: "x" }] }))).toEqual([{ path: "model", message: expect.stringMatching(/unknown model 'nope'/) }]);
    expect(v({ fields: [{ from: "user_idd" }] })[0]).toMatchObject({ path: "fields.0.from", message: expect.stringMatching(/unknown field 'user_idd'/) });
    expect(v({ filters: [[{ field: "level", op: "contains", value: "1" }]] })[0]).toMatchObject({
      path: "filters.0.0.op",
      message: expect.stringMatching(/not valid for integer field 'level'/),
    });
    expect(v({ filters: [[{ field: "timestamp", op: "gte", value: "date:someday" }]] })[0]).toMatchObject({
      path: "filters.0.0.value",
      message: expect.stringMatching(/malformed date expression/),
    });
    expect(v({ filters: [[{ field: "timestamp", op: "gte", value: "date:-7 fortnights" }]] })[0]?.message).toMatch(/unknown unit 'fortnights'/);
    expect(v({ timezone: "Mars/Olympus" })[0]).toMatchObject({ path: "timezone", message: expect.stringMatching(/unknown time zone/) });
    expect(v({ filters: [[{ field: "level", op: "between", value: [1] }]] })[0]?.path).toBe("filters.0.0.value");
    expect(v({ filters: [[{ field: "level", op: "eq", value: "abc" }]] })[0]?.message).toMatch(/expected a number/);
    expect(v({ filters: [[{ field: "level", op: "eq" }]] })[0]?.message).toMatch(/is_empty/);
    expect(v({ filters: [[{ field: "clan_id.x", op: "eq", value: "1" }]] })[0]?.message).toMatch(/no nested keys/);
    expect(v({ fields: [{ from: "user_id" }, { from: "clan_id", to: "user_id" }] })[0]?.path).toBe("fields.1.to");
    expect(v({ fields: [] })[0]?.path).toBe("fields");
    expect(v({ filters: [[{ field: "timestamp", op: "gt", value: "2026-01-01' OR '1'='1" }]] })[0]?.message).toMatch(/is not a date/);
    expect(v({ filters: [[{ field: "level", op: "in", value: [1, "1 OR 1=1"] }]] })[0]).toMatchObject({ path: "filters.0.0.value.1" });
    expect(v({ filters: [[{ field: "has_won", op: "eq", value: 1 }]] })[0]?.message).toMatch(/unknown field 'has_won'/);
    expect(v({ filters: [[{ field: "level", op: "gt", value: 1 }]] })).toEqual([]);
  });

  it("keeps every statement within D1's 100 bound parameters", () => {
    // 120 distinct values in separate conditions: refused with a clear message.
    const many = [0, 1, 2].map((s) => Array.from({ length: 40 }, (_, i) => ({ field: "level", op: "neq", value: s * 40 + i })));
    const issues = v({ filters: many });
    expect(issues[0]?.message).toMatch(/needs \d+ bound parameters \(0 for its fields\); D1 allows 100/);
    // 120 fields with their own defaults: the fields are to blame.
    const wide = v({ fields: Array.from({ length: 120 }, (_, i) => ({ from: "level", to: `l${i}`, default: i })) });
    expect(wide[0]).toMatchObject({ path: "fields", message: expect.stringMatching(/fewer fields with replace maps or defaults/) });
    // The same 1000 values as one `in` list are one parameter.
    expect(v({ filters: [[{ field: "level", op: "in", value: Array.from({ length: 1000 }, (_, i) => i) }]] })).toEqual([]);
    // Equal values share one parameter.
    expect(v({ filters: Array.from({ length: 50 }, () => [{ field: "clan_id", op: "eq", value: "x" }]) })).toEqual([]);
    expect(() => compileExport(body({ model: "logins", fields: [{ from: "user_id" }], filters: many }), { tenantId: "t", now: new Date() })).toThrow(
      ExportValidationError,
    );
  });
});
