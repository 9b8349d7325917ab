import { describe, expect, it, vi } from "vitest";
import { startChainNow } from "../../src/chain";
import { seedParticipations } from "../exports-run/helpers";
import { call, setupTenant } from "../helpers";
import { controlJson, e, readBack, sameBytes, servers, unique } from "../targets/helpers";
import { finishedRun, harness } from "./helpers";

vi.setConfig({ testTimeout: 300_000 });

const COLUMNS = ["user_id", "stackinstanceid", "stackid", "value", "has_won", "participation_date"];

async function poll<T>(fn: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  let v = await fn();
  // the queue consumer runs in the background; wait for it without a timing assertion
  for (let i = 0; i < 1200 && !done(v); i++) {
    await new Promise((ok) => setTimeout(ok, 250));
    v = await fn();
  }
  return v;
}

describe("a run's delivery on GET run, and redelivery", () => {
  it("an S3 delivery refused with 403 shows as failed on a finished run; after fixing the secret, redelivery delivers it", async () => {
    const s = servers().s3;
    const t = await setupTenant("redeliver");
    await seedParticipations(t.tenant.id, 120);
    const bucket = unique("fix");
    await controlJson("/s3/buckets", { name: bucket });
    const target = { type: "s3", endpoint: s.endpoint, region: s.region, bucket, access_key_id: s.accessKeyId, secret_access_key: "not-the-secret", key: "{export}/{run_id}.csv" };
    const body = { name: "to-s3-fix", model: "participations", schedule: { type: "manual" }, fields: COLUMNS.map((from) => ({ from })), format: { type: "csv" }, target };
    const created = await call("POST", "/api/1/exports", { token: t.token, body });
    expect(created.status, created.text).toBe(201);
    const exportId = created.json.id as string;

    const started = await call("POST", `/api/1/exports/${exportId}/runs`, { token: t.token });
    expect(started.status).toBe(202);
    const runId = started.json.id as string;
    const getRun = async () => (await call("GET", `/api/1/exports/${exportId}/runs/${runId}`, { token: t.token })).json;
    const failed = await poll(getRun, (r) => r.delivery?.status === "delivered" || r.delivery?.status === "failed");
    // The run itself finished (its file can be downloaded); the delivery failed, and says why.
    expect(failed).toMatchObject({ status: "finished", error: null });
    expect(failed.download_url).toBeTruthy();
    expect(failed.delivery).toMatchObject({ status: "failed", target_type: "s3", location: null, delivered_at: null });
    expect(failed.delivery.error).toMatch(/403 SignatureDoesNotMatch.*check access_key_id and secret_access_key/);
    expect(failed.delivery.updated_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
    const list = await call("GET", `/api/1/exports/${exportId}/runs`, { token: t.token });
    expect(list.json.runs[0]).toMatchObject({ id: runId, delivery: { status: "failed" } });

    // Another tenant, or the wrong export: not found.
    const other = await setupTenant("redeliver-other");
    expect((await call("POST", `/api/1/exports/${exportId}/runs/${runId}/delivery`, { token: other.token })).status).toBe(404);
    expect((await call("POST", `/api/1/exports/exp_nope/runs/${runId}/delivery`, { token: t.token })).status).toBe(404);

    // Fix the secret on the definition (active definitions are immutable: disable, edit), then redeliver.
    expect((await call("POST", `/api/1/exports/${exportId}/disable`, { token: t.token })).status).toBe(200);
    const fixed = await call("PUT", `/api/1/exports/${exportId}`, { token: t.token, body: { ...body, target: { ...target, secret_access_key: s.secretAccessKey } } });
    expect(fixed.status, fixed.text).toBe(200);
    const again = await call("POST", `/api/1/exports/${exportId}/runs/${runId}/delivery`, { token: t.token });
    expect(again.status, again.text).toBe(202);
    expect(again.json).toMatchObject({ status: "pending", target_type: "s3", attempts: 0, error: null, location: null });

    const done = await poll(getRun, (r) => r.delivery?.status === "delivered" || r.delivery?.status === "failed");
    expect(done.delivery, JSON.stringify(done.delivery)).toMatchObject({ status: "delivered", error: null, location: `s3://${bucket}/to-s3-fix/${runId}.csv` });
    expect(done.delivery.delivered_at).toBeTruthy();
    const row = await e.DB.prepare("SELECT file_key FROM export_runs WHERE id = ?").bind(runId).first<{ file_key: string }>();
    const r2 = new Uint8Array(await (await e.FILES.get(row!.file_key))!.arrayBuffer());
    expect(sameBytes(await readBack(`/s3/object?bucket=${bucket}&key=to-s3-fix/${runId}.csv`), r2)).toBe(true);
    // the corrected secret is stored sealed, and the delivery row keeps the sealed target it used
    const stored = await e.DB.prepare("SELECT target FROM run_deliveries WHERE run_id = ?").bind(runId).first<{ target: string }>();
    expect(stored!.target).not.toContain(s.secretAccessKey);
    expect(JSON.parse(stored!.target).secret_access_key).toMatch(/^v1\./);

    const twice = await call("POST", `/api/1/exports/${exportId}/runs/${runId}/delivery`, { token: t.token });
    expect(twice.status).toBe(409);
    expect(twice.json.error.message).toMatch(/was delivered to s3:\/\//);
  });

  it("refuses (409) a redelivery while the delivery runs and for a run without a file; needs exports-manage; a download target shows no delivery", async () => {
    const t = await setupTenant("redeliver-409");
    const s = servers().sftp;
    const target = { type: "sftp", host: s.host, port: s.port, username: s.user, password: s.password, path: `/${unique("r")}/{run_id}.csv` };
    const { runId, exportId } = await finishedRun(t.tenant.id, target, new Uint8Array([1, 2, 3]));

    const h = harness();
    await startChainNow(h.s, { kind: "delivery", tenantId: t.tenant.id, subjectId: runId }); // its message waits in h's queue
    const run = await call("GET", `/api/1/exports/${exportId}/runs/${runId}`, { token: t.token });
    expect(run.json.delivery).toMatchObject({ status: "pending", target_type: null, attempts: 0 });
    const running = await call("POST", `/api/1/exports/${exportId}/runs/${runId}/delivery`, { token: t.token });
    expect(running.status).toBe(409);
    expect(running.json.error.message).toMatch(/still running/);
    await h.drive(runId);
    expect((await call("GET", `/api/1/exports/${exportId}/runs/${runId}`, { token: t.token })).json.delivery).toMatchObject({ status: "delivered" });

    const viewer = await setupTenant("redeliver-viewer", ["automated-exports-view"]);
    expect((await call("POST", `/api/1/exports/${exportId}/runs/${runId}/delivery`, { token: viewer.token })).status).toBe(403);

    await e.DB.prepare("UPDATE export_runs SET status = 'failed', error = 'boom' WHERE id = ?").bind(runId).run();
    const notFinished = await call("POST", `/api/1/exports/${exportId}/runs/${runId}/delivery`, { token: t.token });
    expect(notFinished.status).toBe(409);
    expect(notFinished.json.error.message).toMatch(/is failed; only a finished run's file can be delivered/);

    const dl = await finishedRun(t.tenant.id, { type: "download" }, new Uint8Array([1]), "to-download");
    expect((await call("GET", `/api/1/exports/${dl.exportId}/runs/${dl.runId}`, { token: t.token })).json.delivery).toBeNull();
    const nothing = await call("POST", `/api/1/exports/${dl.exportId}/runs/${dl.runId}/delivery`, { token: t.token });
    expect(nothing.status).toBe(409);
    expect(nothing.json.error.message).toMatch(/download target/);
  });

  it("the OpenAPI document describes the redelivery route and the run's delivery", async () => {
    const doc = (await call("GET", "/openapi.json")).json;
    const route = doc.paths["/api/1/exports/{id}/runs/{run_id}/delivery"];
    expect(Object.keys(route)).toEqual(["post"]);
    expect(Object.keys(route.post.responses).sort()).toEqual(["202", "404", "409", "422"]);
    expect(route.post.description).toMatch(/CURRENT target/);
    expect(doc.components.schemas.ExportRun.properties.delivery).toBeTruthy();
    expect(doc.components.schemas.RunDelivery.properties.status.enum).toEqual(["pending", "delivering", "retrying", "delivered", "failed"]);
  });
});
