import type { Schedule } from "../exports/definition";

const DAY = 86_400;

function at(dayStartEpoch: number, hhmm: string): number {
  const [h, m] = hhmm.split(":").map(Number) as [number, number];
  return dayStartEpoch + h * 3600 + m * 60;
}

function daysInMonth(y: number, m0: number): number {
  return new Date(Date.UTC(y, m0 + 1, 0)).getUTCDate();
}

/**
 * The first time strictly after `after` (epoch seconds) at which `schedule` fires, or null
 * when it never fires again. All schedules are in UTC. Monthly days that a month does not
 * have (31 in April) are skipped in that month; `last` is the month's last day.
 */
export function nextRunAt(schedule: Schedule, after: number): number | null {
  switch (schedule.type) {
    case "now":
    case "manual":
    // campaign ends are found by the cron in the tenant's data (src/cron/operation-end.ts)
    case "operation_end":
      return null;
    case "once": {
      const t = Math.floor(Date.parse(schedule.at) / 1000);
      return t > after ? t : null;
    }
    case "daily":
    case "weekly":
    case "monthly": {
      const startDay = Math.floor(after / DAY) * DAY;
      // 62 days cover every monthly pattern (a day that exists in at least one of two months).
      for (let i = 0; i <= 62; i++) {
        const day = startDay + i * DAY;
        const t = at(day, schedule.time);
        if (t <= after) continue;
        const d = new Date(day * 1000);
        if (schedule.type === "daily") return t;
        if (schedule.type === "weekly" && schedule.days.includes(d.getUTCDay())) return t;
        if (schedule.type === "monthly") {
          const dom = d.getUTCDate();
          const last = daysInMonth(d.getUTCFullYear(), d.getUTCMonth());
          if (schedule.days.some((x) => (x === "last" ? dom === last : x === dom))) return t;
        }
      }
      return null;
    }
  }
}
