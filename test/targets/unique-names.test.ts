import { describe, expect, it, vi } from "vitest";
import { ExportBody, parseStoredDefinition } from "../../src/exports/definition";
import { UNIQUE_FILE_NAME } from "../../src/targets/config";
import { expandTemplate, fileExtension } from "../../src/targets/types";
import { seedParticipations } from "../exports-run/helpers";
import { call, setupTenant, waitFor } from "../helpers";
import { controlJson, readBack, servers, unique } from "./helpers";

vi.setConfig({ testTimeout: 300_000 });

const ctx = { exportName: "win-info", runId: "run_abc", date: "2026-11-26" };
const file = (name: string) => ({ key: "k", size: 1, name, contentType: "text/csv" });

describe("unique file names by default", () => {
  it("every push target defaults to {export}_{date}_{run_id}.{ext}; a template that is set is kept", () => {
    const parse = (target: Record<string, unknown>) => ExportBody.parse({ name: "win-info", model: "logins", all_fields: true, target }).target as Record<string, unknown>;
    const s3 = { type: "s3", endpoint: "https://s3.example.com", bucket: "bkt", access_key_id: "a", secret_access_key: "s" };
    const ftp = { host: "ftp.example.com", username: "u", password: "p" };
    expect(parse(s3).key).toBe(UNIQUE_FILE_NAME);
    expect(parse({ type: "ftp", ...ftp }).path).toBe(`/${UNIQUE_FILE_NAME}`);
    expect(parse({ type: "ftps", ...ftp }).path).toBe(`/${UNIQUE_FILE_NAME}`);
    expect(parse({ type: "sftp", ...ftp }).path).toBe(`/${UNIQUE_FILE_NAME}`);
    expect(parse({ type: "azure", endpoint: "https://a.blob.core.windows.net", container: "box", sas_token: "sv=1&sig=x" }).blob).toBe(UNIQUE_FILE_NAME);
    expect(parse({ ...s3, key: "{name}" }).key).toBe("{name}");
    // A definition stored with the earlier default keeps it.
    const stored = JSON.stringify({ name: "old", model: "logins", all_fields: true, target: { ...s3, key: "{name}", region: "us-east-1", path_style: true, part_size_mb: 8 } });
    expect((parseStoredDefinition(stored).target as Record<string, unknown>).key).toBe("{name}");
  });

  it("{ext} is what follows the export's name", () => {
    expect(UNIQUE_FILE_NAME).toBe("{export}_{date}_{run_id}.{ext}");
    expect(expandTemplate(UNIQUE_FILE_NAME, file("win-info.csv"), ctx)).toBe("win-info_2026-11-26_run_abc.csv");
    expect(expandTemplate(`/${UNIQUE_FILE_NAME}`, file("win-info.txt.gz.pgp"), ctx)).toBe("/win-info_2026-11-26_run_abc.txt.gz.pgp");
    expect(fileExtension("v1.2.csv.zip", "v1.2")).toBe("csv.zip");
    expect(fileExtension("other.json", "win-info")).toBe("json");
    expect(expandTemplate("{export}.{ext}", file("noext"), { ...ctx, exportName: "x" })).toBe("x");
    expect(expandTemplate("{name}", file("win-info.csv"), ctx)).toBe("win-info.csv");
  });

  it("two runs of one export land under two names in S3", async () => {
    const s = servers().s3;
    const t = await setupTenant("unique-names");
    await seedParticipations(t.tenant.id, 50);
    const bucket = unique("uniq");
    await controlJson("/s3/buckets", { name: bucket });
    const target = { type: "s3", endpoint: s.endpoint, region: s.region, bucket, access_key_id: s.accessKeyId, secret_access_key: s.secretAccessKey };
    // no schedule: the create answer carries the first run
    const created = await call("POST", "/api/1/exports", { token: t.token, body: { name: "daily-dump", model: "participations", all_fields: true, target } });
    expect(created.status, created.text).toBe(201);
    expect(created.json.target.key).toBe(UNIQUE_FILE_NAME);
    const second = await call("POST", `/api/1/exports/${created.json.id}/runs`, { token: t.token });
    const keys: string[] = [];
    for (const runId of [created.json.run.id as string, second.json.id as string]) {
      const delivery = await waitFor(async () => {
        const d = (await call("GET", `/api/1/targets/deliveries/${runId}`, { token: t.token })).json;
        return d?.status === "delivered" || d?.status === "failed" ? d : undefined;
      }, "the delivery", 6000);
      expect(delivery, JSON.stringify(delivery)).toMatchObject({ status: "delivered" });
      const run = (await call("GET", `/api/1/exports/${created.json.id}/runs/${runId}`, { token: t.token })).json;
      const key = `daily-dump_${run.created_at.slice(0, 10)}_${runId}.csv`;
      expect((await readBack(`/s3/object?bucket=${bucket}&key=${key}`)).length).toBe(run.bytes);
      keys.push(key);
    }
    expect(new Set(keys).size).toBe(2);
  });
});
