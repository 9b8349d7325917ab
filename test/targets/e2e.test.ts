import { describe, expect, it, vi } from "vitest";
import { call, setupTenant, waitFor } from "../helpers";
import { seedParticipations } from "../exports-run/helpers";
import { controlJson, e, readBack, sameBytes, servers, unique } from "./helpers";

vi.setConfig({ testTimeout: 300_000 });

const COLUMNS = ["user_id", "stackinstanceid", "stackid", "value", "has_won", "participation_date"];

/** The queue consumer runs in the background; wait for it without a timing assertion. */
async function poll<T>(fn: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  return waitFor(async () => {
    const v = await fn();
    return done(v) ? v : undefined;
  }, "the run or its delivery to end", 6000);
}

describe("export run -> delivery, end to end through the real queue", () => {
  it("the same export lands byte-identical in R2, S3, FTP and SFTP; credentials stay encrypted and masked", async () => {
    const s = servers();
    const t = await setupTenant("e2e-targets");
    await seedParticipations(t.tenant.id, 300);
    const bucket = unique("e2e");
    await controlJson("/s3/buckets", { name: bucket });
    const dir = unique("e2e");
    const targets = {
      s3: { type: "s3", endpoint: s.s3.endpoint, region: s.s3.region, bucket, access_key_id: s.s3.accessKeyId, secret_access_key: s.s3.secretAccessKey, key: "{export}/{run_id}.csv" },
      ftp: { type: "ftp", host: s.ftp.host, port: s.ftp.port, username: s.ftp.user, password: s.ftp.password, path: `/${dir}/{run_id}.csv` },
      sftp: { type: "sftp", host: s.sftp.host, port: s.sftp.port, username: s.sftp.user, password: s.sftp.password, path: `/${dir}/{run_id}.csv` },
    };
    const secrets = [s.s3.secretAccessKey, s.ftp.password];

    for (const [kind, target] of Object.entries(targets)) {
      const created = await call("POST", "/api/1/exports", {
        token: t.token,
        body: { name: `to-${kind}`, model: "participations", schedule: { type: "manual" }, fields: COLUMNS.map((from) => ({ from })), format: { type: "csv" }, target },
      });
      expect(created.status, created.text).toBe(201);
      for (const secret of secrets) expect(created.text).not.toContain(secret);
      expect(created.json.target).toMatchObject({ type: kind, ...(kind === "s3" ? { secret_access_key: "****" } : { password: "****" }) });
      const raw = await e.DB.prepare("SELECT definition FROM exports WHERE id = ?").bind(created.json.id).first<{ definition: string }>();
      for (const secret of secrets) expect(raw!.definition).not.toContain(secret);

      const started = await call("POST", `/api/1/exports/${created.json.id}/runs`, { token: t.token });
      expect(started.status).toBe(202);
      const runId = started.json.id as string;
      const run = await poll(
        async () => (await call("GET", `/api/1/exports/${created.json.id}/runs/${runId}`, { token: t.token })).json,
        (r) => r.status === "finished" || r.status === "failed",
      );
      expect(run.status).toBe("finished");
      const delivery = await poll(
        async () => (await call("GET", `/api/1/targets/deliveries/${runId}`, { token: t.token })).json,
        (d) => d?.status === "delivered" || d?.status === "failed",
      );
      expect(delivery, JSON.stringify(delivery)).toMatchObject({ status: "delivered", target_type: kind });

      const row = await e.DB.prepare("SELECT file_key FROM export_runs WHERE id = ?").bind(runId).first<{ file_key: string }>();
      const r2 = new Uint8Array(await (await e.FILES.get(row!.file_key))!.arrayBuffer());
      expect(r2.length).toBeGreaterThan(1000);
      const back =
        kind === "s3" ? await readBack(`/s3/object?bucket=${bucket}&key=to-s3/${runId}.csv`) : await readBack(`/file?server=${kind}&path=${dir}/${runId}.csv`);
      expect(sameBytes(back, r2), kind).toBe(true);
    }
  });
});
