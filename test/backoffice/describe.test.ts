import { describe, expect, it } from "vitest";
import { describeFields, describeFilters, describeFormat, describeSchedule, describeTarget } from "../../src/backoffice/describe";
import { runStats } from "../../src/backoffice/stats";
import { ExportBody } from "../../src/exports/definition";

describe("a definition in words", () => {
  it("reads filters as AND inside a set and OR between sets", () => {
    const def = ExportBody.parse({
      name: "x",
      model: "logins",
      filters: [
        [
          { field: "level", op: "between", value: [1, 5] },
          { field: "timestamp", op: "gte", value: "date:today -7 days" },
        ],
        [{ field: "country", op: "in", value: ["FR", "DE"] }],
      ],
      fields: [{ from: "user_id", to: "uid", default: "?", replace: [{ value: "a", with: "b" }] }],
      format: { type: "csv", delimiter: ";", header: false },
      compression: "zip",
      schedule: { type: "weekly", days: [1, 5], time: "07:30" },
    });
    expect(describeFilters(def)).toBe(
      "rows where (level is between 1 and 5 and timestamp is on or after “date:today -7 days”) or (country is one of “FR”, “DE”)",
    );
    expect(describeFields(def)).toEqual(["user_id → uid default “?” replacing “a” with “b”"]);
    expect(describeFormat(def)).toBe('CSV, delimited by ";", without a header row, in a zip archive');
    expect(describeSchedule(def.schedule)).toBe("every week on Monday, Friday at 07:30 UTC");
    expect(describeTarget({ type: "download" })).toContain("download");
    expect(describeFilters({ model: "logins", filters: [] })).toBe("every row");
  });
});

describe("run statistics", () => {
  it("counts runs per UTC day, the success rate of ended runs, and durations of finished ones", () => {
    const day = 86400;
    const now = 20_000 * day + 3600;
    const runs = [
      { status: "finished" as const, created_at: now - 60, started_at: now - 58, finished_at: now - 40 },
      { status: "failed" as const, created_at: now - 120, started_at: now - 119, finished_at: now - 100 },
      { status: "finished" as const, created_at: now - day, started_at: now - day, finished_at: now - day + 5 },
      { status: "processing" as const, created_at: now - 5, started_at: now - 4, finished_at: null },
      { status: "finished" as const, created_at: now - 30 * day, started_at: now - 30 * day, finished_at: now - 30 * day + 9 },
    ];
    const s = runStats(runs, now, 14);
    expect(s.perDay).toHaveLength(14);
    expect(s.perDay[13]).toMatchObject({ finished: 1, failed: 1, other: 1 });
    expect(s.perDay[12]).toMatchObject({ finished: 1, failed: 0, other: 0 });
    expect(s.successRate).toBe(3 / 4);
    expect(s.durations.map((d) => d.seconds)).toEqual([9, 5, 18]);
    expect(runStats([], now).successRate).toBeNull();
  });
});
