import { describe, expect, it } from "vitest";
import { evaluateDateExpression, isValidTimeZone, localDate, parseDateLiteral } from "../../src/exports/dates";

const iso = (ms: number) => new Date(ms).toISOString().replace(".000Z", "Z");
const ev = (expr: string, now: string, tz: string) => iso(evaluateDateExpression(expr, new Date(now), tz));

describe("date: expressions", () => {
  it("day anchors in UTC", () => {
    const now = "2026-03-15T10:20:30Z";
    expect(ev("date:now", now, "UTC")).toBe("2026-03-15T10:20:30Z");
    expect(ev("date:today", now, "UTC")).toBe("2026-03-15T00:00:00Z");
    expect(ev("date:yesterday", now, "UTC")).toBe("2026-03-14T00:00:00Z");
    expect(ev("date:tomorrow", now, "UTC")).toBe("2026-03-16T00:00:00Z");
    expect(ev("DATE: Today", now, "UTC")).toBe("2026-03-15T00:00:00Z");
  });

  it("start / end of periods; weeks start on Monday", () => {
    // 2026-01-01 is a Thursday.
    const now = "2026-01-01T12:00:00Z";
    expect(ev("date:start of week", now, "UTC")).toBe("2025-12-29T00:00:00Z");
    expect(ev("date:end of week", now, "UTC")).toBe("2026-01-04T23:59:59Z");
    expect(ev("date:start of month", now, "UTC")).toBe("2026-01-01T00:00:00Z");
    expect(ev("date:start of last month", now, "UTC")).toBe("2025-12-01T00:00:00Z");
    expect(ev("date:end of last month", now, "UTC")).toBe("2025-12-31T23:59:59Z");
    expect(ev("date:start of next year", now, "UTC")).toBe("2027-01-01T00:00:00Z");
    expect(ev("date:end of year", now, "UTC")).toBe("2026-12-31T23:59:59Z");
    expect(ev("date:start of quarter", "2026-05-20T00:00:00Z", "UTC")).toBe("2026-04-01T00:00:00Z");
    expect(ev("date:end of month", "2028-02-10T00:00:00Z", "UTC")).toBe("2028-02-29T23:59:59Z");
    expect(ev("date:start of day", now, "UTC")).toBe("2026-01-01T00:00:00Z");
  });

  it("offsets: calendar units move the local calendar, clock units move the instant", () => {
    expect(ev("date:-7 days", "2026-03-15T10:00:00Z", "UTC")).toBe("2026-03-08T10:00:00Z");
    expect(ev("date:today -7 days", "2026-03-15T10:00:00Z", "UTC")).toBe("2026-03-08T00:00:00Z");
    expect(ev("date:+1 month", "2026-01-31T08:00:00Z", "UTC")).toBe("2026-02-28T08:00:00Z");
    expect(ev("date:-1 year", "2028-02-29T08:00:00Z", "UTC")).toBe("2027-02-28T08:00:00Z");
    expect(ev("date:start of month -1 month +2 weeks", "2026-03-15T10:00:00Z", "UTC")).toBe("2026-02-15T00:00:00Z");
    expect(ev("date:today +9 hours +30 minutes -15 seconds", "2026-03-15T10:00:00Z", "UTC")).toBe("2026-03-15T09:29:45Z");
    // Paris moved to CEST on 2026-03-29: 7 calendar days back keeps 12:00 local, 168 hours does not.
    expect(ev("date:-7 days", "2026-03-31T10:00:00Z", "Europe/Paris")).toBe("2026-03-24T11:00:00Z");
    expect(ev("date:-168 hours", "2026-03-31T10:00:00Z", "Europe/Paris")).toBe("2026-03-24T10:00:00Z");
  });

  it("time zones, including DST days and odd offsets", () => {
    // New York: DST starts 2026-03-08 02:00 (23-hour day); ends 2026-11-01 02:00 (25-hour day).
    expect(ev("date:today", "2026-03-08T12:00:00Z", "America/New_York")).toBe("2026-03-08T05:00:00Z");
    expect(ev("date:tomorrow", "2026-03-08T12:00:00Z", "America/New_York")).toBe("2026-03-09T04:00:00Z");
    expect(ev("date:end of day", "2026-03-08T12:00:00Z", "America/New_York")).toBe("2026-03-09T03:59:59Z");
    expect(ev("date:today", "2026-11-01T12:00:00Z", "America/New_York")).toBe("2026-11-01T04:00:00Z");
    expect(ev("date:tomorrow", "2026-11-01T12:00:00Z", "America/New_York")).toBe("2026-11-02T05:00:00Z");
    // Paris ends DST 2026-10-25 03:00 CEST -> 02:00 CET.
    expect(ev("date:today", "2026-10-25T12:00:00Z", "Europe/Paris")).toBe("2026-10-24T22:00:00Z");
    expect(ev("date:tomorrow", "2026-10-25T12:00:00Z", "Europe/Paris")).toBe("2026-10-25T23:00:00Z");
    // Tokyo (UTC+9, no DST): 20:00Z on 31 January is already 1 February there.
    expect(ev("date:start of month", "2026-01-31T20:00:00Z", "Asia/Tokyo")).toBe("2026-01-31T15:00:00Z");
    // Kathmandu is UTC+5:45.
    expect(ev("date:today", "2026-06-01T00:00:00Z", "Asia/Kathmandu")).toBe("2026-05-31T18:15:00Z");
    // Lord Howe shifts by 30 minutes: +11 in January (DST), +10:30 in July.
    expect(ev("date:today", "2026-01-15T00:00:00Z", "Australia/Lord_Howe")).toBe("2026-01-14T13:00:00Z");
    expect(ev("date:today", "2026-07-15T00:00:00Z", "Australia/Lord_Howe")).toBe("2026-07-14T13:30:00Z");
  });

  it("local times in a DST gap move forward; in an overlap take the earlier instant", () => {
    // 2026-03-29 02:30 does not exist in Paris (02:00 -> 03:00): it becomes 03:30 CEST = 01:30Z.
    expect(iso(parseDateLiteral("2026-03-29 02:30:00", "Europe/Paris") ?? 0)).toBe("2026-03-29T01:30:00Z");
    // 2026-10-25 02:30 happens twice in Paris: the first (CEST) is 00:30Z.
    expect(iso(parseDateLiteral("2026-10-25 02:30:00", "Europe/Paris") ?? 0)).toBe("2026-10-25T00:30:00Z");
    expect(iso(parseDateLiteral("2026-10-25T02:30:00+01:00", "Europe/Paris") ?? 0)).toBe("2026-10-25T01:30:00Z");
    expect(iso(parseDateLiteral("2026-10-25", "America/New_York") ?? 0)).toBe("2026-10-25T04:00:00Z");
    expect(parseDateLiteral("2026-02-30", "UTC")).toBeNull();
    expect(parseDateLiteral("yesterday", "UTC")).toBeNull();
    expect(localDate(Date.parse("2026-03-08T03:00:00Z"), "America/New_York")).toBe("2026-03-07");
  });

  it("rejects malformed expressions and unknown zones with a message naming the problem", () => {
    const bad = (expr: string, tz = "UTC") => () => evaluateDateExpression(expr, new Date(), tz);
    expect(bad("date:")).toThrow(/empty/);
    expect(bad("date:someday")).toThrow(/cannot read 'someday'/);
    expect(bad("date:-7 fortnights")).toThrow(/unknown unit 'fortnights'/);
    expect(bad("date:start of decade")).toThrow(/use day, week, month, quarter or year/);
    expect(bad("date:today 7 days")).toThrow(/cannot read/);
    expect(bad("today")).toThrow(/starts with 'date:'/);
    expect(bad("date:today", "Mars/Olympus")).toThrow(/unknown time zone/);
    expect(isValidTimeZone("Europe/Paris")).toBe(true);
    expect(isValidTimeZone("Europe/Pariss")).toBe(false);
    expect(isValidTimeZone("")).toBe(false);
  });
});
