import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

/**
 * Control-database migrations against real local D1 databases (wrangler, on disk): a database
 * made by the hand-written migrations of before the drizzle-kit baseline keeps every row when
 * it is brought onto the generated history, whether it had all the old files or only some.
 */
const ROOT = resolve(__dirname, "../..");
const WRANGLER = join(ROOT, "node_modules/.bin/wrangler");
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function sh(args: string[], cwd = ROOT): string {
  return execFileSync(args[0]!, args.slice(1), { cwd, env: { ...process.env, CI: "true" }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function query(persist: string, sql: string, config?: string): Record<string, unknown>[] {
  const out = sh([WRANGLER, "d1", "execute", "DB", "--local", "--persist-to", persist, "--json", "--command", sql, ...(config ? ["-c", config] : [])]);
  return (JSON.parse(out) as { results: Record<string, unknown>[] }[]).flatMap((r) => r.results);
}

/** A database at the state the legacy migrations `files` leave it in, with a few rows. */
function legacyDatabase(files: string[]): { persist: string } {
  const persist = mkdtempSync(join(tmpdir(), "ferry-migrate-"));
  dirs.push(persist);
  const legacy = join(persist, "legacy");
  execFileSync("mkdir", ["-p", legacy]);
  for (const f of files) writeFileSync(join(legacy, f), readFileSync(join(ROOT, "migrations/control-legacy", f)));
  // Same database_id as wrangler.toml, so the repo's config finds the same local file.
  const config = join(persist, "legacy.toml");
  writeFileSync(
    config,
    `name = "legacy"\ncompatibility_date = "2026-11-01"\n[[d1_databases]]\nbinding = "DB"\ndatabase_name = "ferry-control"\ndatabase_id = "00000000-0000-0000-0000-000000000000"\nmigrations_dir = "${legacy}"\n`,
  );
  sh([WRANGLER, "d1", "migrations", "apply", "DB", "--local", "--persist-to", persist, "-c", config]);
  query(
    persist,
    `INSERT INTO tenants (id, name, shard, created_at) VALUES ('ten_a', 'acme', 1, 1700000000);
     INSERT INTO clients (id, tenant_id, name, secret_hash, permissions, created_at) VALUES ('cli_a', 'ten_a', 'etl', 'h', '["ingest"]', 1700000000);
     INSERT INTO exports (id, tenant_id, name, model, status, definition, created_by, created_at, updated_at)
       VALUES ('exp_a', 'ten_a', 'win-info', 'participations', 'active', '{"name":"win-info"}', 'cli_a', 1700000000, 1700000000);
     INSERT INTO export_runs (id, tenant_id, export_id, status, definition, rows, created_at)
       VALUES ('run_a', 'ten_a', 'exp_a', 'finished', '{}', 42, 1700000100);`,
    config,
  );
  return { persist };
}

const applied = (persist: string) => query(persist, "SELECT name FROM d1_migrations ORDER BY id").map((r) => r.name);

describe("control migrations", () => {
  const legacyFiles = readdirSync(join(ROOT, "migrations/control-legacy")).filter((f) => f.endsWith(".sql")).sort();
  const generated = readdirSync(join(ROOT, "migrations/control")).filter((f) => f.endsWith(".sql")).sort();

  it("match src/db/schema.ts: drizzle-kit finds nothing left to generate", () => {
    // drizzle-kit wants the output folder relative to the project (.tmp/ is ignored by git).
    execFileSync("mkdir", ["-p", join(ROOT, ".tmp")]);
    const out = mkdtempSync(join(ROOT, ".tmp", "drizzle-check-"));
    dirs.push(out);
    cpSync(join(ROOT, "migrations/control"), out, { recursive: true });
    const rel = out.slice(ROOT.length + 1);
    const log = sh([join(ROOT, "node_modules/.bin/drizzle-kit"), "generate", "--dialect", "sqlite", "--schema", "src/db/schema.ts", "--out", rel]);
    expect(log).toMatch(/No schema changes/);
    expect(readdirSync(out).filter((f) => f.endsWith(".sql")).sort()).toEqual(generated);
  }, 60_000);

  it("are numbered without gaps from 0000", () => {
    expect(generated.map((f) => f.slice(0, 4))).toEqual(generated.map((_, i) => String(i).padStart(4, "0")));
  });

  it.each([
    ["every legacy file", legacyFiles],
    ["only the first five legacy files", legacyFiles.slice(0, 5)],
  ])("a database made by %s is adopted and migrated without losing a row", (_, files) => {
    const { persist } = legacyDatabase(files);
    sh(["node", "scripts/adopt-baseline.mjs", "--persist-to", persist]);
    sh([WRANGLER, "d1", "migrations", "apply", "DB", "--local", "--persist-to", persist]);
    expect(applied(persist)).toEqual(generated);
    expect(query(persist, "SELECT id, name, shard FROM tenants")).toEqual([{ id: "ten_a", name: "acme", shard: 1 }]);
    expect(query(persist, "SELECT id, rows FROM export_runs")).toEqual([{ id: "run_a", rows: 42 }]);
    expect(query(persist, "SELECT count(*) AS n FROM exports WHERE id = 'exp_a'")).toEqual([{ n: 1 }]);
    // Tables the later migrations add exist, and a column the legacy files added late is there.
    expect(query(persist, "SELECT count(*) AS n FROM chains")).toEqual([{ n: 0 }]);
    expect(query(persist, "SELECT next_run_at FROM exports")).toEqual([{ next_run_at: null }]);
    // Adopting again changes nothing.
    expect(sh(["node", "scripts/adopt-baseline.mjs", "--persist-to", persist])).toMatch(/baseline-present/);
  }, 180_000);

  it("0012 (sources.type takes gcs) rebuilds sources without losing its files or their errors (D1 cascades the DROP)", () => {
    const persist = mkdtempSync(join(tmpdir(), "ferry-migrate-"));
    dirs.push(persist);
    const dir = join(persist, "control");
    execFileSync("mkdir", ["-p", dir]);
    const upTo = (n: number) => generated.filter((f) => Number(f.slice(0, 4)) <= n).forEach((f) => writeFileSync(join(dir, f), readFileSync(join(ROOT, "migrations/control", f))));
    const config = join(persist, "partial.toml");
    writeFileSync(
      config,
      `name = "partial"\ncompatibility_date = "2026-11-01"\n[[d1_databases]]\nbinding = "DB"\ndatabase_name = "ferry-control"\ndatabase_id = "00000000-0000-0000-0000-000000000000"\nmigrations_dir = "${dir}"\n`,
    );
    upTo(11);
    sh([WRANGLER, "d1", "migrations", "apply", "DB", "--local", "--persist-to", persist, "-c", config]);
    query(
      persist,
      `INSERT INTO tenants (id, name, shard, created_at) VALUES ('ten_a', 'acme', 0, 1700000000);
       INSERT INTO sources (id, tenant_id, name, type, config, status, created_at, updated_at) VALUES ('src_a', 'ten_a', 'bucket', 's3', '{}', 'ok', 1700000000, 1700000000);
       INSERT INTO source_files (id, source_id, tenant_id, key, etag, size, model, format, status, created_at, updated_at)
         VALUES ('sfl_a', 'src_a', 'ten_a', 'purchases/a.ndjson', 'e1', 10, 'purchases', 'ndjson', 'completed', 1700000000, 1700000000);
       INSERT INTO source_file_errors (file_id, line, field, message) VALUES ('sfl_a', 3, 'price', 'not a number');`,
      config,
    );
    upTo(12);
    sh([WRANGLER, "d1", "migrations", "apply", "DB", "--local", "--persist-to", persist, "-c", config]);
    // (one wrangler call per check: each starts workerd, tens of seconds on a busy machine)
    expect(
      query(
        persist,
        `SELECT 'source' AS t, id, type AS v FROM sources UNION ALL SELECT 'file', id, key FROM source_files
         UNION ALL SELECT 'error', file_id, message FROM source_file_errors
         UNION ALL SELECT 'leftover', name, type FROM sqlite_master WHERE name LIKE '__keep%' OR name LIKE '__new%'`,
        config,
      ),
    ).toEqual([
      { t: "source", id: "src_a", v: "s3" },
      { t: "file", id: "sfl_a", v: "purchases/a.ndjson" },
      { t: "error", id: "sfl_a", v: "not a number" },
    ]);
    // gcs is allowed now; the foreign keys still hold and still cascade
    expect(
      query(
        persist,
        `INSERT INTO sources (id, tenant_id, name, type, config, status, created_at, updated_at) VALUES ('src_g', 'ten_a', 'g', 'gcs', '{}', 'ok', 1, 1);
         DELETE FROM sources WHERE id = 'src_a';
         SELECT (SELECT count(*) FROM source_files) AS files, (SELECT group_concat(type) FROM sources) AS types;`,
        config,
      ),
    ).toEqual([{ files: 0, types: "gcs" }]);
    expect(() => query(persist, "INSERT INTO sources (id, tenant_id, name, type, config, status, created_at, updated_at) VALUES ('src_x', 'ten_a', 'x', 'gopher', '{}', 'ok', 1, 1)", config)).toThrow();
  }, 900_000);

  it("a new database gets the generated history", () => {
    const persist = mkdtempSync(join(tmpdir(), "ferry-migrate-"));
    dirs.push(persist);
    expect(sh(["node", "scripts/adopt-baseline.mjs", "--persist-to", persist])).toMatch(/empty/);
    sh([WRANGLER, "d1", "migrations", "apply", "DB", "--local", "--persist-to", persist]);
    expect(applied(persist)).toEqual(generated);
  }, 120_000);
});
