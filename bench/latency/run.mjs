// Latency under load: autocannon on loopback against `npm run dev`, each endpoint next to
// GET /health measured in the same run (the floor of the runtime).
// Target: p99 of every authenticated read within 2x of /health's p99.
import autocannon from "autocannon";
import { QUICK, record, round, seedTenant, startDev } from "../lib/harness.mjs";

const DURATION = QUICK ? 2 : 10;
const CONNECTIONS = 10;

async function load(url, { path, method = "GET", headers = {}, body, expect401 = false }) {
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
  return { p50: r.latency.p50, p99: r.latency.p99, rps: round(r.requests.average, 0) };
}

const dev = await startDev();
try {
  const seed = await seedTenant(dev.url);
  const auth = { Authorization: `Bearer ${seed.token}` };
  // warm-up: first requests compile and fill caches
  for (let i = 0; i < 50; i++) await fetch(`${dev.url}/api/1/me`, { headers: auth }).then((r) => r.arrayBuffer());

  const cases = [
    { name: "GET /health", path: "/health" },
    {
      name: "POST /api/1/oauth2/access_token",
      path: "/api/1/oauth2/access_token",
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ grant_type: "client_credentials", client_id: seed.client.client_id, client_secret: seed.client.client_secret }),
      read: false,
    },
    // Timing side channel check: a wrong secret for a real client vs. an unknown client.
    ...[
      ["token: wrong secret (401)", seed.client.client_id],
      ["token: unknown client (401)", "cli_unknown0000000000000"],
    ].map(([name, id]) => ({
      name,
      path: "/api/1/oauth2/access_token",
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ grant_type: "client_credentials", client_id: id, client_secret: `${seed.client.client_secret}x` }),
      expect401: true,
    })),
    { name: "GET /api/1/me", path: "/api/1/me", headers: auth, read: true },
    { name: "GET /api/1/models/actions", path: "/api/1/models/actions", headers: auth, read: true },
  ];
  const results = [];
  for (const c of cases) results.push({ ...c, ...(await load(dev.url, c)) });
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
    rows.push({ metric: `${r.name} throughput`, value: r.rps, unit: "req/s" });
  }
  record("latency", { connections: CONNECTIONS, duration_s: DURATION, results, rows });
} finally {
  dev.stop();
}
