/** Statistics of an export's runs for its page: runs per day, success rate, durations. Pure. */

export interface RunLike {
  status: "pending" | "processing" | "finished" | "failed";
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

export interface RunStats {
  /** the last `days` days (UTC), oldest first */
  perDay: { day: string; finished: number; failed: number; other: number }[];
  /** finished / (finished + failed), null before any run ended */
  successRate: number | null;
  ended: number;
  /** seconds from start to end of the last finished runs, oldest first */
  durations: { label: string; seconds: number }[];
}

export function runStats(runs: RunLike[], nowSeconds: number, days = 14, lastDurations = 20): RunStats {
  const today = Math.floor(nowSeconds / 86400);
  const perDay = Array.from({ length: days }, (_, i) => ({
    day: new Date((today - days + 1 + i) * 86400 * 1000).toISOString().slice(0, 10),
    finished: 0,
    failed: 0,
    other: 0,
  }));
  let finished = 0;
  let failed = 0;
  for (const r of runs) {
    const idx = Math.floor(r.created_at / 86400) - (today - days + 1);
    const bucket = perDay[idx];
    if (bucket) {
      if (r.status === "finished") bucket.finished++;
      else if (r.status === "failed") bucket.failed++;
      else bucket.other++;
    }
    if (r.status === "finished") finished++;
    if (r.status === "failed") failed++;
  }
  const durations = runs
    .filter((r) => r.status === "finished" && r.finished_at !== null)
    .sort((a, b) => a.created_at - b.created_at)
    .slice(-lastDurations)
    .map((r) => ({
      label: new Date(r.created_at * 1000).toISOString().slice(5, 16).replace("T", " "),
      seconds: Math.max(0, (r.finished_at ?? 0) - (r.started_at ?? r.created_at)),
    }));
  return { perDay, successRate: finished + failed ? finished / (finished + failed) : null, ended: finished + failed, durations };
}
