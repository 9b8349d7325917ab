import { describe, expect, it } from "vitest";
import { nextRunAt } from "../../src/exports/schedule";

const t = (iso: string) => Math.floor(Date.parse(iso) / 1000);
const iso = (s: number | null) => (s === null ? null : new Date(s * 1000).toISOString());

describe("nextRunAt (UTC)", () => {
  it("now never recurs; once fires only in the future", () => {
    expect(nextRunAt({ type: "now" }, t("2026-11-24T10:00:00Z"))).toBeNull();
    const once = { type: "once" as const, at: "2026-12-01T08:30:00+00:00" };
    expect(iso(nextRunAt(once, t("2026-11-24T10:00:00Z")))).toBe("2026-12-01T08:30:00.000Z");
    expect(nextRunAt(once, t("2026-12-01T08:30:00Z"))).toBeNull();
    expect(iso(nextRunAt({ type: "once", at: "2026-12-01T10:30:00+02:00" }, 0))).toBe("2026-12-01T08:30:00.000Z");
  });

  it("daily: later today, else tomorrow; exactly at the time moves to the next day", () => {
    const s = { type: "daily" as const, time: "06:00" };
    expect(iso(nextRunAt(s, t("2026-11-24T05:59:00Z")))).toBe("2026-11-24T06:00:00.000Z");
    expect(iso(nextRunAt(s, t("2026-11-24T06:00:00Z")))).toBe("2026-11-25T06:00:00.000Z");
    expect(iso(nextRunAt(s, t("2026-12-31T23:00:00Z")))).toBe("2027-01-01T06:00:00.000Z");
  });

  it("weekly on chosen days (0 = Sunday)", () => {
    const s = { type: "weekly" as const, days: [1, 5], time: "09:15" }; // Mon, Fri
    // 2026-11-24 is a Tuesday
    expect(iso(nextRunAt(s, t("2026-11-24T12:00:00Z")))).toBe("2026-11-27T09:15:00.000Z");
    expect(iso(nextRunAt(s, t("2026-11-27T09:15:00Z")))).toBe("2026-11-30T09:15:00.000Z");
  });

  it("monthly on chosen days, including last, skipping days a month lacks", () => {
    const s = { type: "monthly" as const, days: [31], time: "00:00" };
    expect(iso(nextRunAt(s, t("2026-11-01T00:00:00Z")))).toBe("2026-12-31T00:00:00.000Z");
    const last = { type: "monthly" as const, days: ["last" as const], time: "23:30" };
    expect(iso(nextRunAt(last, t("2027-02-01T00:00:00Z")))).toBe("2027-02-28T23:30:00.000Z");
    expect(iso(nextRunAt(last, t("2028-02-01T00:00:00Z")))).toBe("2028-02-29T23:30:00.000Z");
    const mixed = { type: "monthly" as const, days: [1, 15, "last" as const], time: "12:00" };
    expect(iso(nextRunAt(mixed, t("2026-11-15T12:00:00Z")))).toBe("2026-11-30T12:00:00.000Z");
    expect(iso(nextRunAt(mixed, t("2026-11-30T12:00:00Z")))).toBe("2026-12-01T12:00:00.000Z");
  });
});
