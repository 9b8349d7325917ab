/**
 * `date:` relative date expressions in filter values, evaluated in the export's IANA
 * time zone with the `Intl` API (available in workerd) to UTC instants.
 *
 * Grammar (case-insensitive, spaces between terms optional around signs):
 *
 *   expression := "date:" [ base ] { offset }          at least one of base / offset
 *   base       := "now" | "today" | "yesterday" | "tomorrow"
 *               | ( "start" | "end" ) " of " [ "last " | "previous " | "this " | "next " ] unit
 *   offset     := ( "+" | "-" ) integer " " unit
 *   unit       := second[s] | minute[s] | hour[s] | day[s] | week[s] | month[s] | year[s]
 *                 (start/end of: day | week | month | quarter | year)
 *
 * Without a base the offsets apply to `now`. `today` is local midnight; `end of X` is the
 * last second of X (timestamps have second precision); weeks start on Monday (ISO 8601).
 * Day, week, month and year offsets move the local calendar (a month from 31 January is
 * the last day of February); second, minute and hour offsets move the instant. A local time
 * that does not exist (spring-forward gap) moves forward by the gap; an ambiguous one
 * (fall-back overlap) takes the earlier instant, as Temporal's "compatible" rule.
 * Examples: `date:today`, `date:-7 days`, `date:start of month`, `date:start of last month`,
 * `date:end of month -1 month`, `date:today +9 hours`.
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when `tz` is an IANA time zone the runtime knows. */
export function isValidTimeZone(tz: string): boolean {
  if (!tz || tz.length > 100) return false;
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

/** Local wall-clock time, months 1-12. */
export interface Wall {
  y: number;
  mo: number;
  d: number;
  h: number;
  mi: number;
  s: number;
}

/** The wall clock in `tz` at the instant `ms` (whole seconds). */
export function toWall(ms: number, tz: string): Wall {
  const parts = formatter(tz).formatToParts(new Date(Math.floor(ms / 1000) * 1000));
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value);
  let y = get("year");
  // en-US renders years before 1 CE with an era; exports never go there, but keep it monotone.
  if (parts.some((p) => p.type === "era" && p.value.startsWith("B"))) y = 1 - y;
  return { y, mo: get("month"), d: get("day"), h: get("hour") % 24, mi: get("minute"), s: get("second") };
}

const wallAsUtc = (w: Wall) => Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s);

/** Offset of `tz` from UTC at instant `ms`, in ms. */
function offsetAt(ms: number, tz: string): number {
  return wallAsUtc(toWall(ms, tz)) - Math.floor(ms / 1000) * 1000;
}

/** The UTC instant of wall-clock `w` in `tz` (gap: moved forward, overlap: earlier instant). */
export function fromWall(w: Wall, tz: string): number {
  const guess = wallAsUtc(normalize(w));
  const DAY = 86_400_000;
  const before = offsetAt(guess - DAY, tz);
  const after = offsetAt(guess + DAY, tz);
  const matches = [...new Set([before, after])]
    .map((o) => guess - o)
    .filter((t) => wallAsUtc(toWall(t, tz)) === guess)
    .sort((a, b) => a - b);
  if (matches[0] !== undefined) return matches[0];
  // No match: the local time falls in a gap; the offset before the transition moves it forward.
  return guess - before;
}

function normalize(w: Wall): Wall {
  const d = new Date(Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s));
  return {
    y: d.getUTCFullYear(),
    mo: d.getUTCMonth() + 1,
    d: d.getUTCDate(),
    h: d.getUTCHours(),
    mi: d.getUTCMinutes(),
    s: d.getUTCSeconds(),
  };
}

const daysInMonth = (y: number, mo: number) => new Date(Date.UTC(y, mo, 0)).getUTCDate();

function addMonths(w: Wall, n: number): Wall {
  const total = w.y * 12 + (w.mo - 1) + n;
  const y = Math.floor(total / 12);
  const mo = (total % 12) + 1;
  return { ...w, y, mo, d: Math.min(w.d, daysInMonth(y, mo)) };
}

/** ISO weekday 1 (Monday) .. 7 (Sunday) of a calendar date. */
const isoWeekday = (w: Wall) => ((new Date(Date.UTC(w.y, w.mo - 1, w.d)).getUTCDay() + 6) % 7) + 1;

type Unit = "second" | "minute" | "hour" | "day" | "week" | "month" | "year";
type Period = "day" | "week" | "month" | "quarter" | "year";

const UNITS: Record<string, Unit> = {};
for (const u of ["second", "minute", "hour", "day", "week", "month", "year"] as const) {
  UNITS[u] = u;
  UNITS[`${u}s`] = u;
}
const PERIODS = new Set<Period>(["day", "week", "month", "quarter", "year"]);

export class DateExpressionError extends Error {}

const BASE_RE = /^(now|today|yesterday|tomorrow|(start|end)\s+of\s+(?:(last|previous|this|next)\s+)?([a-z]+))/;
const OFFSET_RE = /^([+-])\s*(\d{1,6})\s*([a-z]+)/;

function startOf(w: Wall, p: Period): Wall {
  const day = { ...w, h: 0, mi: 0, s: 0 };
  switch (p) {
    case "day":
      return day;
    case "week":
      return normalize({ ...day, d: day.d - (isoWeekday(day) - 1) });
    case "month":
      return { ...day, d: 1 };
    case "quarter":
      return { ...day, d: 1, mo: Math.floor((day.mo - 1) / 3) * 3 + 1 };
    case "year":
      return { ...day, d: 1, mo: 1 };
  }
}

function shiftPeriod(w: Wall, p: Period, n: number): Wall {
  if (p === "day") return normalize({ ...w, d: w.d + n });
  if (p === "week") return normalize({ ...w, d: w.d + 7 * n });
  if (p === "month") return addMonths(w, n);
  if (p === "quarter") return addMonths(w, 3 * n);
  return addMonths(w, 12 * n);
}

/** Parses and evaluates `date:...` at `now` in `tz`; returns the UTC instant in ms. */
export function evaluateDateExpression(expr: string, now: Date, tz: string): number {
  if (!isValidTimeZone(tz)) throw new DateExpressionError(`unknown time zone '${tz}'`);
  const m = /^date:\s*(.*)$/is.exec(expr.trim());
  if (!m) throw new DateExpressionError("a date expression starts with 'date:'");
  let rest = (m[1] ?? "").trim().toLowerCase();
  if (!rest) throw new DateExpressionError("empty date expression; try 'date:today' or 'date:-7 days'");

  // State: a wall clock; second/minute/hour offsets round-trip through the instant.
  let wall = toWall(now.getTime(), tz);
  const base = BASE_RE.exec(rest);
  if (base) {
    const word = base[1] ?? "";
    if (word === "today" || word === "yesterday" || word === "tomorrow") {
      wall = shiftPeriod(startOf(wall, "day"), "day", word === "yesterday" ? -1 : word === "tomorrow" ? 1 : 0);
    } else if (base[2]) {
      const period = base[4] as Period;
      if (!PERIODS.has(period)) {
        throw new DateExpressionError(`'${base[2]} of ${period}': use day, week, month, quarter or year`);
      }
      const rel = base[3];
      const shift = rel === "last" || rel === "previous" ? -1 : rel === "next" ? 1 : 0;
      const start = shiftPeriod(startOf(wall, period), period, shift);
      wall = base[2] === "start" ? start : normalize({ ...shiftPeriod(start, period, 1), s: -1 });
    }
    rest = rest.slice(base[0].length).trim();
  }
  let offsets = 0;
  while (rest) {
    const o = OFFSET_RE.exec(rest);
    if (!o) {
      throw new DateExpressionError(
        `cannot read '${rest}'; expected an offset such as '-7 days' or '+1 month' (see docs/exports.md, date grammar)`,
      );
    }
    const unit = UNITS[o[3] ?? ""];
    if (!unit) throw new DateExpressionError(`unknown unit '${o[3]}'; use seconds, minutes, hours, days, weeks, months or years`);
    const n = (o[1] === "-" ? -1 : 1) * Number(o[2]);
    if (unit === "second" || unit === "minute" || unit === "hour") {
      const ms = { second: 1000, minute: 60_000, hour: 3_600_000 }[unit];
      wall = toWall(fromWall(wall, tz) + n * ms, tz);
    } else {
      wall = shiftPeriod(wall, unit, n);
    }
    offsets++;
    rest = rest.slice(o[0].length).trim();
  }
  if (!base && offsets === 0) throw new DateExpressionError("empty date expression");
  return fromWall(wall, tz);
}

export const isDateExpression = (v: unknown): boolean => typeof v === "string" && /^\s*date:/i.test(v);

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** `YYYY-MM-DD HH:MM:SS` in UTC, the storage form of timestamp fields. */
export function utcTimestamp(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** `YYYY-MM-DD` of the local calendar day in `tz` at instant `ms`, the storage form of date fields. */
export function localDate(ms: number, tz: string): string {
  const w = toWall(ms, tz);
  return `${pad(w.y, 4)}-${pad(w.mo)}-${pad(w.d)}`;
}

const LITERAL_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * A literal date or date-time in a filter value: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS]`,
 * or ISO 8601 with `T` and an optional `Z` / `±HH:MM` offset. Without an offset it is
 * wall-clock time in `tz` (date-only: local midnight). Returns the UTC instant in ms, or
 * null when it is not such a literal.
 */
export function parseDateLiteral(value: string, tz: string): number | null {
  const m = LITERAL_RE.exec(value.trim());
  if (!m) return null;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((x) => Number(x ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || s > 59) return null;
  const wall = { y, mo, d, h, mi, s };
  const off = m[7];
  if (!off) return fromWall(wall, tz);
  if (off.toUpperCase() === "Z") return wallAsUtc(wall);
  const om = /^([+-])(\d{2}):?(\d{2})$/.exec(off);
  if (!om) return null;
  const sign = om[1] === "-" ? -1 : 1;
  return wallAsUtc(wall) - sign * (Number(om[2]) * 3_600_000 + Number(om[3]) * 60_000);
}
