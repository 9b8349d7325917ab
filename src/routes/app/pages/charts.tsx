import type { FC } from "hono/jsx";
import type { RunStats } from "../../../backoffice/stats";

/** Inline SVG charts (no script, no CDN); each has a text alternative. */

export const RunsPerDayChart: FC<{ stats: RunStats }> = ({ stats }) => {
  const w = 420;
  const h = 140;
  const pad = { l: 24, b: 22, t: 8 };
  const max = Math.max(1, ...stats.perDay.map((d) => d.finished + d.failed + d.other));
  const bw = (w - pad.l) / stats.perDay.length;
  const y = (n: number) => ((h - pad.b - pad.t) * n) / max;
  const total = stats.perDay.reduce((n, d) => n + d.finished + d.failed + d.other, 0);
  const label = `Runs per day over the last ${stats.perDay.length} days: ${total} in all.`;
  return (
    <svg class="chart" viewBox={`0 0 ${w} ${h}`} role="img" aria-label={label}>
      <title>{label}</title>
      <line class="axis" x1={pad.l} y1={h - pad.b} x2={w} y2={h - pad.b} />
      <text x={2} y={pad.t + 8}>
        {max}
      </text>
      <text x={2} y={h - pad.b}>
        0
      </text>
      {stats.perDay.map((d, i) => {
        const x = pad.l + i * bw + 2;
        const okH = y(d.finished + d.other);
        const failH = y(d.failed);
        return (
          <g>
            <title>{`${d.day}: ${d.finished} finished, ${d.failed} failed${d.other ? `, ${d.other} running` : ""}`}</title>
            <rect class="bar" x={x} y={h - pad.b - okH} width={bw - 4} height={okH} />
            <rect class="bar fail" x={x} y={h - pad.b - okH - failH} width={bw - 4} height={failH} />
            {i % 3 === 1 ? (
              <text x={x} y={h - 6}>
                {d.day.slice(5)}
              </text>
            ) : null}
          </g>
        );
      })}
    </svg>
  );
};

export const DurationChart: FC<{ stats: RunStats }> = ({ stats }) => {
  const w = 420;
  const h = 140;
  const pad = { l: 34, b: 22, t: 8 };
  const points = stats.durations;
  if (!points.length) return <p class="muted">No finished run yet.</p>;
  const max = Math.max(1, ...points.map((p) => p.seconds));
  const bw = (w - pad.l) / Math.max(points.length, 5);
  const y = (s: number) => ((h - pad.b - pad.t) * s) / max;
  const avg = points.reduce((n, p) => n + p.seconds, 0) / points.length;
  const label = `Duration of the last ${points.length} finished runs: average ${avg.toFixed(1)} s, longest ${max} s.`;
  return (
    <svg class="chart" viewBox={`0 0 ${w} ${h}`} role="img" aria-label={label}>
      <title>{label}</title>
      <line class="axis" x1={pad.l} y1={h - pad.b} x2={w} y2={h - pad.b} />
      <text x={2} y={pad.t + 8}>
        {`${max} s`}
      </text>
      <text x={2} y={h - pad.b}>
        0 s
      </text>
      {points.map((p, i) => {
        const x = pad.l + i * bw + 2;
        return (
          <g>
            <title>{`${p.label} UTC: ${p.seconds} s`}</title>
            <rect class="bar" x={x} y={h - pad.b - y(p.seconds)} width={Math.max(2, bw - 4)} height={Math.max(1, y(p.seconds))} />
          </g>
        );
      })}
    </svg>
  );
};
