import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unstable_readConfig } from "wrangler";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, devVars, startDevServer, wrangler } from "./dev-server";

/**
 * Ferry deploys as two workers (docs/architecture.md, "Two workers"): the API (wrangler.toml,
 * src/api.ts) and the jobs worker (wrangler.jobs.toml, src/jobs-worker.ts). The Workers test
 * pool runs both in one entry (src/index.ts); this file checks what only the real split shows:
 * what the API bundles, that the two configs agree, and that `npm run dev` runs both, with the
 * API's toolbox calls and the queue's chain links landing in the jobs worker.
 */

/** The job work's libraries: none may be bundled into the API worker. */
const JOB_ONLY = ["openpgp", "ssh2", "hyparquet", "hyparquet-writer", "pako", "worker-mailer"];

const ROOT = join(__dirname, "..", "..");

/** The parts of wrangler's resolved config compared below. */
interface WranglerConfig {
  name: string;
  vars: Record<string, unknown>;
  compatibility_date: string;
  compatibility_flags: string[];
  d1_databases: { binding: string; database_id: string }[];
  r2_buckets: { binding: string; bucket_name: string }[];
  queues: { producers?: { binding: string; queue: string }[]; consumers?: { queue: string }[] };
  triggers: { crons?: string[] };
  services?: { binding: string; service: string; entrypoint?: string }[];
}

/**
 * A worker's build, one per config: every file esbuild read (its metafile's inputs) and the ones
 * with bytes in the output (what tree-shaking kept).
 */
const builds = new Map<string, Promise<{ read: string[]; kept: Record<string, number> }>>();
function build(config: string): Promise<{ read: string[]; kept: Record<string, number> }> {
  let p = builds.get(config);
  if (!p) {
    p = (async () => {
      const out = mkdtempSync(join(tmpdir(), "ferry-split-"));
      try {
        await wrangler(["deploy", "--dry-run", "--minify", "-c", config, "--outdir", out, "--metafile", join(out, "meta.json")]);
        const meta = JSON.parse(readFileSync(join(out, "meta.json"), "utf8")) as {
          inputs: Record<string, unknown>;
          outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
        };
        const kept: Record<string, number> = {};
        for (const o of Object.values(meta.outputs)) {
          for (const [f, i] of Object.entries(o.inputs)) if (i.bytesInOutput > 0) kept[f] = (kept[f] ?? 0) + i.bytesInOutput;
        }
        return { read: Object.keys(meta.inputs), kept };
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    })();
    builds.set(config, p);
  }
  return p;
}

async function bundledPackages(config: string): Promise<Set<string>> {
  const pkgs = new Set<string>();
  for (const file of (await build(config)).read) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
    if (m) pkgs.add(m[1]!);
  }
  return pkgs;
}

describe("the two workers' builds", () => {
  it("the API worker bundles none of the job work's libraries; the jobs worker has them", async () => {
    const [api, jobs] = await Promise.all([bundledPackages("wrangler.toml"), bundledPackages("wrangler.jobs.toml")]);
    expect(JOB_ONLY.filter((p) => api.has(p))).toEqual([]);
    // Not vacuous: the same names are found where they belong.
    for (const p of ["openpgp", "ssh2", "hyparquet-writer", "pako", "worker-mailer"]) expect(jobs.has(p), p).toBe(true);
    for (const p of ["hono", "zod", "jose", "drizzle-orm"]) expect(api.has(p), p).toBe(true);
  }, 240_000);

  it("zod reaches both bundles through src/lib/zod.ts: one locale (English), its ES modules only", async () => {
    for (const config of ["wrangler.toml", "wrangler.jobs.toml"]) {
      const { read, kept } = await build(config);
      const zod = Object.keys(kept).filter((f) => f.includes("node_modules/zod/"));
      // @hono/zod-openapi's `extendZodWithOpenApi(z)` gets src/lib/zod.ts's `z`, not zod's namespace,
      // so esbuild keeps only what ferry calls: no locale but the one zod configures at import
      // (and a few bytes of locales/index.js, the module that re-exports them).
      const locales = zod.filter((f) => f.includes("/locales/"));
      expect(locales.filter((f) => !f.endsWith("/index.js")).map((f) => f.replace(/.*\/locales\//, "")), config).toEqual(["en.js"]);
      for (const f of locales.filter((f) => f.endsWith("/index.js"))) expect(kept[f], f).toBeLessThan(100);
      expect(read.some((f) => f.endsWith("src/lib/zod.ts")), config).toBe(true);
      expect(zod.filter((f) => !f.endsWith(".js")), config).toEqual([]);
      expect(zod.length, config).toBeGreaterThan(10);
    }
  }, 240_000);

  it("wrangler.toml and wrangler.jobs.toml share the same vars, databases, bucket and queue", () => {
    const read = (file: string) => unstable_readConfig({ config: join(ROOT, file) }) as unknown as WranglerConfig;
    const [api, jobs] = [read("wrangler.toml"), read("wrangler.jobs.toml")];
    expect(jobs.vars).toEqual(api.vars);
    expect(jobs.compatibility_date).toBe(api.compatibility_date);
    expect(jobs.compatibility_flags).toEqual(api.compatibility_flags);
    const d1 = (c: typeof api) => c.d1_databases.map((d) => [d.binding, d.database_id]);
    expect(d1(jobs)).toEqual(d1(api));
    expect(jobs.r2_buckets.map((b) => [b.binding, b.bucket_name])).toEqual(api.r2_buckets.map((b) => [b.binding, b.bucket_name]));
    const jobsQueue = (c: typeof api) => c.queues.producers?.find((p) => p.binding === "JOBS")?.queue;
    expect(jobsQueue(api)).toBe("ferry-jobs");
    expect(jobsQueue(jobs)).toBe("ferry-jobs");
    // The queue is consumed and the cron triggered by the jobs worker only.
    expect(jobs.queues.consumers?.map((c) => c.queue)).toContain("ferry-jobs");
    expect(api.queues.consumers ?? []).toEqual([]);
    expect(api.triggers.crons ?? []).toEqual([]);
    expect(jobs.triggers.crons?.length).toBeGreaterThan(0);
    expect(api.services?.find((s) => s.binding === "TOOLBOX")).toMatchObject({ service: jobs.name, entrypoint: "Toolbox" });
  });
});

describe("npm run dev runs both workers", () => {
  const dir = mkdtempSync(join(tmpdir(), "ferry-split-dev-"));
  const ADMIN = { Authorization: `Bearer ${devVars().ADMIN_TOKEN ?? "dev-admin-token"}`, "Content-Type": "application/json" };
  let dev: DevServer;
  let token = "";

  async function call(method: string, path: string, body?: unknown, auth = `Bearer ${token}`) {
    const r = await fetch(`${dev.url}${path}`, {
      method,
      headers: { Authorization: auth, ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: r.status, body: (await r.json()) as Record<string, any> };
  }

  beforeAll(async () => {
    // ALLOW_PRIVATE_TARGETS is read by the jobs worker (the target drivers run there): a --var
    // must reach it too (scripts/dev.mjs).
    dev = await startDevServer({ persistTo: dir, vars: { ALLOW_PRIVATE_TARGETS: "true" }, mode: "script", startTimeoutMs: 300_000 });
    const tenant = (await call("POST", "/api/1/admin/tenants", { name: "split" }, ADMIN.Authorization)).body;
    const client = (
      await call("POST", `/api/1/admin/tenants/${tenant.id}/clients`, { name: "c", permissions: ["exports-manage", "automated-exports-view"] }, ADMIN.Authorization)
    ).body;
    const t = await fetch(`${dev.url}/api/1/oauth2/access_token`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ grant_type: "client_credentials", client_id: client.client_id, client_secret: client.client_secret }),
    });
    token = ((await t.json()) as { access_token: string }).access_token;
    const key = (await call("POST", `/api/1/admin/tenants/${tenant.id}/api-keys`, { name: "k" }, ADMIN.Authorization)).body.api_key;
    const rows = Array.from({ length: 30 }, (_, i) => ({ user_id: `u-${i}`, stackinstanceid: "si", stackid: "st", value: i, has_won: i % 2 === 0, participation_date: "2026-11-01 10:00:00" }));
    expect((await call("POST", "/v1/records/participations", { participations: rows }, `Bearer ${key}`)).status).toBe(201);
  }, 420_000);

  afterAll(async () => {
    await dev?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the API worker's /openapi.json carries what .openapi() adds to zod's schemas (zod through src/lib/zod.ts)", async () => {
    const r = await fetch(`${dev.url}/openapi.json`);
    expect(r.status).toBe(200);
    const doc = (await r.json()) as { paths: Record<string, unknown>; components: { schemas: Record<string, { description?: string }> } };
    expect(doc.components.schemas.IngestResponse?.description).toBe("`{ code, message, data }`, code = HTTP status");
    expect(Object.keys(doc.paths)).toContain("/api/1/oauth2/access_token");
    expect(Object.keys(doc.paths).length).toBeGreaterThan(50);
  });

  it("a target check runs in the jobs worker (the SFTP driver) and its refusal comes back as the API's 422", async () => {
    const r = await call("POST", "/api/1/targets/test", { type: "sftp", host: "127.0.0.1", port: 1, username: "u", password: "p", path: "/x" });
    expect(r.status).toBe(422);
    // Not the "private host" refusal: the jobs worker got ALLOW_PRIVATE_TARGETS and tried to connect.
    expect(r.body.error.message).toMatch(/^Connection test failed: SFTP: .*ECONNREFUSED/);
  });

  it("an encryption key is read by OpenPGP in the jobs worker; a bad one is the API's 400", async () => {
    // well-formed armor around bytes that are no key (long enough for the schema's length check)
    const bad = `-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n${"QUFB".repeat(16)}\n${"QUFB".repeat(16)}\n-----END PGP PUBLIC KEY BLOCK-----\n`;
    const r = await call("POST", "/api/1/exports", {
      name: "enc",
      model: "participations",
      fields: [{ from: "user_id" }],
      format: { type: "csv" },
      schedule: { type: "manual" },
      encryption: { type: "pgp", public_key: bad },
    });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/not an armored OpenPGP public key/);
  });

  it("a Parquet export runs through the queue in the jobs worker and downloads from the API", async () => {
    const created = await call("POST", "/api/1/exports", {
      name: "split-parquet",
      model: "participations",
      fields: [{ from: "user_id" }, { from: "value" }],
      format: { type: "parquet" },
      schedule: { type: "manual" },
    });
    expect(created.status).toBe(201);
    const run = (await call("POST", `/api/1/exports/${created.body.id}/runs`)).body;
    let view: Record<string, any> = {};
    for (let i = 0; i < 120 && view.status !== "finished" && view.status !== "failed"; i++) {
      await new Promise((ok) => setTimeout(ok, 1000));
      view = (await call("GET", `/api/1/exports/${created.body.id}/runs/${run.id}`)).body;
    }
    expect(view.status, JSON.stringify(view)).toBe("finished");
    expect(view.rows).toBe(30);
    const file = new Uint8Array(await (await fetch(view.download_url)).arrayBuffer());
    expect(new TextDecoder().decode(file.slice(0, 4))).toBe("PAR1");
  }, 180_000);
});
