// Latency under load: autocannon on loopback against `npm run dev`, each endpoint next to
// GET /health measured in the same run (the floor of the runtime).
// Target: p99 of every authenticated read within 2x of /health's p99.
import autocannon from "autocannon";
import { QUICK, record, round, seedTenant, startDev, treeCpuMs } from "../lib/harness.mjs";

const DURATION = QUICK ? 2 : 10;
const CONNECTIONS = 10;

/**
 * autocannon against one endpoint; with `pid` (the dev server), also the server's CPU time per
 * request (wrangler + workerd, from /proc): what the endpoint costs, whatever the load average.
 */
async function load(url, { path, method = "GET", headers = {}, body, expect401 = false }, pid) {
  const cpu0 = pid ? treeCpuMs(pid) : 0;
  const r = await autocannon({
    url: `${url}${path}`,
    method,
    headers,
    body,
    connections: CONNECTIONS,
    duration: DURATION,
    timeout: 30,
  });
  if (expect401 ? r["4xx"] !== r.requests.total : r["2xx"] === 0 || r.non2xx > 0) {
    throw new Error(`${method} ${path}: unexpected statuses (2xx ${r["2xx"]}, 4xx ${r["4xx"]}) of ${r.requests.total}`);
  }
  const cpu = pid ? { cpu_ms: round((treeCpuMs(pid) - cpu0) / r.requests.total, 2) } : {};
  return { p50: r.latency.p50, p99: r.latency.p99, rps: round(r.requests.average, 0), ...cpu };
}

/**
 * The token endpoint is rate-limited by design (20 per minute per client id, 60 per minute per
 * IP, 10 failures lock a client: docs/rate-limits.md), so it cannot be measured under
 * autocannon's load without measuring the limiter's 429s. It is timed with `n` sequential calls
 * instead, kept under those limits (every token case of this file together stays under 60).
 */
async function sequential(url, { path, method = "GET", headers = {}, body, bodies, expect401 = false }, n) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await fetch(`${url}${path}`, { method, headers, body: bodies ? bodies[i % bodies.length] : body });
    await res.arrayBuffer();
    times.push(performance.now() - t0);
    if (expect401 ? res.status !== 401 : !res.ok) throw new Error(`${method} ${path}: unexpected status ${res.status} after ${i} calls: ${res.headers.get("ratelimit")}`);
  }
  times.sort((a, b) => a - b);
  const at = (q) => round(times[Math.min(times.length - 1, Math.floor(q * times.length))], 2);
  return { p50: at(0.5), p99: at(0.99), rps: round(1000 / (times.reduce((a, b) => a + b, 0) / n), 0), sequential: n };
}

// migrations + wrangler start can take minutes on a loaded machine
const dev = await startDev({ timeoutMs: 600_000 });
try {
  const seed = await seedTenant(dev.url);
  const auth = { Authorization: `Bearer ${seed.token}` };
  // warm-up: first requests compile and fill caches
  for (let i = 0; i < 50; i++) await fetch(`${dev.url}/api/1/me`, { headers: auth }).then((r) => r.arrayBuffer());

  // An export with one finished result, for the automated list and fetch calls.
  const json = { ...auth, "content-type": "application/json" };
  const exp = await (
    await fetch(`${dev.url}/api/1/exports`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ name: "bench-latency", model: "logins", all_fields: true, format: { type: "json" } }),
    })
  ).json();
  const run = await (await fetch(`${dev.url}/api/1/exports/${exp.id}/runs`, { method: "POST", headers: auth })).json();
  for (let i = 0; ; i++) {
    const r = await (await fetch(`${dev.url}/api/1/exports/${exp.id}/runs/${run.id}`, { headers: auth })).json();
    if (r.status === "finished") break;
    if (r.status === "failed" || i > 600) throw new Error(`latency seed run did not finish: ${JSON.stringify(r)}`);
    await new Promise((res) => setTimeout(res, 100));
  }
  // A small ingestion batch (10 actions), the size a game backend sends per flush.
  const batch = JSON.stringify({
    actions: Array.from({ length: 10 }, (_, i) => ({
      user_id: `u-${i}`,
      action_id: `a-${i}`,
      action_name: "kill",
      timestamp: "2026-11-01 10:00:00",
      action_params: [{ key: "enemy_id", value: `e-${i}` }],
    })),
  });

  // One client per token call: the per-client-id limit then never refuses a measured call.
  const admin = { Authorization: "Bearer dev-admin-token", "content-type": "application/json" };
  const clients = [];
  for (let i = 0; i < 15; i++) {
    const r = await fetch(`${dev.url}/api/1/admin/tenants/${seed.tenant.id}/clients`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ name: `bench-${i}`, permissions: ["exports-manage"] }),
    });
    clients.push(await r.json());
  }
  const tokenBody = (id, secret) => JSON.stringify({ grant_type: "client_credentials", client_id: id, client_secret: secret });

  const cases = [
    { name: "GET /health", path: "/health" },
    {
      name: "POST /api/1/oauth2/access_token",
      path: "/api/1/oauth2/access_token",
      method: "POST",
      headers: { "content-type": "application/json" },
      bodies: clients.map((c) => tokenBody(c.client_id, c.client_secret)),
      read: false,
      sequential: 15,
    },
    // Timing side channel check: a wrong secret for a real client vs. an unknown client.
    ...[
      ["token: wrong secret (401)", clients.map((c) => c.client_id)],
      ["token: unknown client (401)", clients.map((_, i) => `cli_unknown${String(i).padStart(13, "0")}`)],
    ].map(([name, ids]) => ({
      name,
      path: "/api/1/oauth2/access_token",
      method: "POST",
      headers: { "content-type": "application/json" },
      bodies: ids.map((id) => tokenBody(id, `${seed.client.client_secret}x`)),
      expect401: true,
      // under the lock-out threshold of 10 failures per client id
      sequential: 8,
    })),
    { name: "GET /api/1/me", path: "/api/1/me", headers: auth, read: true },
    { name: "GET /api/1/models/actions", path: "/api/1/models/actions", headers: auth, read: true },
    { name: "GET /api/1/data-exporter/automated", path: "/api/1/data-exporter/automated", headers: auth, read: true },
    { name: "GET /api/1/data-exporter/automated/fetch/:id", path: `/api/1/data-exporter/automated/fetch/${run.id}`, headers: auth, read: true },
    {
      name: "POST /v1/actions (10 items)",
      path: "/v1/actions",
      method: "POST",
      headers: { Authorization: `Bearer ${seed.apiKey}`, "content-type": "application/json" },
      body: batch,
    },
  ];
  const results = [];
  for (const c of cases) results.push({ ...c, ...(await (c.sequential ? sequential(dev.url, c, c.sequential) : load(dev.url, c, dev.pid))) });
  const floor = results[0];
  const rows = [];
  for (const r of results) {
    const ratio = round(r.p99 / Math.max(floor.p99, 1), 2);
    rows.push({
      metric: `${r.name} p50 / p99`,
      value: `${r.p50} / ${r.p99}`,
      unit: "ms",
      baseline: r === floor ? undefined : `/health p99 ${floor.p99} ms`,
      ratio: r === floor ? undefined : ratio,
      ...(r.read ? { target: "p99 <= 2x /health", met: r.p99 <= 2 * Math.max(floor.p99, 1) } : {}),
    });
    rows.push({ metric: `${r.name} throughput${r.sequential ? ` (${r.sequential} sequential calls, rate-limited endpoint)` : ""}`, value: r.rps, unit: "req/s" });
    if (r.cpu_ms !== undefined) {
      rows.push({
        metric: `${r.name} server CPU per request (wrangler + workerd)`,
        value: r.cpu_ms,
        unit: "ms",
        baseline: r === floor ? undefined : `/health ${floor.cpu_ms} ms`,
        ratio: r === floor ? undefined : round(r.cpu_ms / Math.max(floor.cpu_ms, 0.01), 2),
      });
    }
  }
  record("latency", { connections: CONNECTIONS, duration_s: DURATION, results, rows });
} finally {
  dev.stop();
}
