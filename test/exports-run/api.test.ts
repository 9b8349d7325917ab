import { SELF, createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { signDownload } from "../../src/runs";
import { BASE, call, createClient, getToken, setupTenant, waitFor } from "../helpers";
import { RunQueue, drain, e, expectedCsv, fileBytes, runRow, seedExport, seedParticipations, SLOW, startRun } from "./helpers";

vi.setConfig(SLOW);

async function finishedRun(name: string, rows = 50) {
  const t = await setupTenant(name);
  await seedParticipations(t.tenant.id, rows);
  const exportId = await seedExport(t.token, { name });
  const q = new RunQueue();
  const run = await startRun(q, t.tenant.id, exportId);
  await drain(q);
  return { t, exportId, runId: run.id };
}

const fetchPath = (url: string, headers: Record<string, string> = {}) => {
  const u = new URL(url);
  return SELF.fetch(`${BASE}${u.pathname}${u.search}`, { headers });
};

describe("runs API", () => {
  it("POST starts a pending run; GET lists and shows it; another tenant gets 404", async () => {
    const t = await setupTenant("api");
    const exportId = await seedExport(t.token);
    const r = await call("POST", `/api/1/exports/${exportId}/runs`, { token: t.token });
    expect(r.status).toBe(202);
    expect(r.json).toEqual({ id: expect.stringMatching(/^run_/), status: "pending" });
    expect(r.headers.get("location")).toBe(`/api/1/exports/${exportId}/runs/${r.json.id}`);

    const one = await call("GET", `/api/1/exports/${exportId}/runs/${r.json.id}`, { token: t.token });
    expect(one.status).toBe(200);
    expect(one.json).toMatchObject({ id: r.json.id, export_id: exportId, trigger: "manual", rows: expect.any(Number) });
    expect(["pending", "processing", "finished", "failed"]).toContain(one.json.status);
    expect(one.json.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);

    const list = await call("GET", `/api/1/exports/${exportId}/runs`, { token: t.token });
    expect(list.status).toBe(200);
    expect(list.json.total).toBe(1);
    expect(list.json.runs.map((x: { id: string }) => x.id)).toEqual([r.json.id]);

    const other = await setupTenant("api-other");
    expect((await call("GET", `/api/1/exports/${exportId}/runs/${r.json.id}`, { token: other.token })).status).toBe(404);
    expect((await call("GET", `/api/1/exports/${exportId}/runs`, { token: other.token })).status).toBe(404);
    const post = await call("POST", `/api/1/exports/${exportId}/runs`, { token: other.token });
    expect(post.status).toBe(404);
    expect(post.json.error.code).toBe("not_found");
  });

  it("needs exports-manage; unknown export and disabled export are refused clearly", async () => {
    const t = await setupTenant("perm", ["ingest"]);
    const exportId = await seedExport(await getToken(await createClient(t.tenant.id, ["exports-manage"])));
    const r = await call("POST", `/api/1/exports/${exportId}/runs`, { token: t.token });
    expect(r.status).toBe(403);
    expect(r.json.error.message).toContain("exports-manage");
    expect((await call("GET", `/api/1/exports/${exportId}/runs`)).status).toBe(401);

    const ok = await setupTenant("perm2");
    expect((await call("POST", "/api/1/exports/exp_missing/runs", { token: ok.token })).status).toBe(404);
    const disabled = await seedExport(ok.token, { name: "off" });
    expect((await call("POST", `/api/1/exports/${disabled}/disable`, { token: ok.token })).status).toBe(200);
    const c = await call("POST", `/api/1/exports/${disabled}/runs`, { token: ok.token });
    expect(c.status).toBe(409);
    expect(c.json.error.message).toMatch(/disabled.*enable it first/);
    const bad = await call("GET", `/api/1/exports/${disabled}/runs?per_page=1000`, { token: ok.token });
    expect(bad.status).toBe(400);
    expect(bad.json.error.details[0].path).toBe("per_page");
  });

  it("a run of another export of the same tenant is 404 under the wrong export id", async () => {
    const { t, runId } = await finishedRun("wrong-export");
    const other = await seedExport(t.token, { name: "other" });
    expect((await call("GET", `/api/1/exports/${other}/runs/${runId}`, { token: t.token })).status).toBe(404);
  });
});

describe("end to end through the real queue", () => {
  it("POST /runs is picked up by the queue consumer and finishes with a working download link", async () => {
    const t = await setupTenant("e2e");
    await seedParticipations(t.tenant.id, 500);
    const exportId = await seedExport(t.token, { name: "e2e" });
    const r = await call("POST", `/api/1/exports/${exportId}/runs`, { token: t.token });
    expect(r.status).toBe(202);
    // the consumer runs in the background; wait for it without a timing assertion
    const run = await waitFor(async () => {
      const got = (await call("GET", `/api/1/exports/${exportId}/runs/${r.json.id}`, { token: t.token })).json;
      return got.status === "pending" || got.status === "processing" ? undefined : got;
    }, "the run to end", 3000);
    expect(run).toMatchObject({ status: "finished", rows: 500, progress: 1, error: null, file_name: "e2e.csv" });
    const res = await fetchPath(run.download_url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(await expectedCsv(t.tenant.id));
  });
});

describe("downloads", () => {
  let ctx: Awaited<ReturnType<typeof finishedRun>>;
  let url: string;
  let expected: string;
  beforeAll(async () => {
    ctx = await finishedRun("dl-export", 200);
    const r = await call("GET", `/api/1/exports/${ctx.exportId}/runs/${ctx.runId}`, { token: ctx.t.token });
    expect(r.json.status).toBe("finished");
    url = r.json.download_url;
    expected = await expectedCsv(ctx.t.tenant.id);
    expect(r.json.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(r.json.bytes).toBe(new TextEncoder().encode(expected).length);
  });

  it("streams the file without a token, with a filename from the export name", async () => {
    expect(url).toMatch(new RegExp(`/api/1/downloads/${ctx.runId}\\?expires=\\d+&sig=[A-Za-z0-9_-]+$`));
    const res = await fetchPath(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toBe(
      `attachment; filename="dl-export.csv"; filename*=UTF-8''dl-export.csv`,
    );
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(res.headers.get("accept-ranges")).toBe("bytes");
    expect(await res.text()).toBe(expected);
  });

  it("serves byte ranges (206) and refuses unsatisfiable ones (416)", async () => {
    const all = new TextEncoder().encode(expected);
    const mid = await fetchPath(url, { Range: "bytes=10-99" });
    expect(mid.status).toBe(206);
    expect(mid.headers.get("content-range")).toBe(`bytes 10-99/${all.length}`);
    expect(new Uint8Array(await mid.arrayBuffer())).toEqual(all.slice(10, 100));
    const open = await fetchPath(url, { Range: "bytes=100-" });
    expect(open.status).toBe(206);
    expect(new Uint8Array(await open.arrayBuffer())).toEqual(all.slice(100));
    const suffix = await fetchPath(url, { Range: "bytes=-5" });
    expect(suffix.status).toBe(206);
    expect(new Uint8Array(await suffix.arrayBuffer())).toEqual(all.slice(-5));
    const past = await fetchPath(url, { Range: `bytes=${all.length}-` });
    expect(past.status).toBe(416);
    expect(past.headers.get("content-range")).toBe(`bytes */${all.length}`);
    await past.arrayBuffer();
  });

  it("a tampered link is 403", async () => {
    const u = new URL(url);
    const sig = u.searchParams.get("sig") as string;
    const flipped = `${sig.slice(0, -2)}${sig.endsWith("AA") ? "BB" : "AA"}`;
    for (const bad of [
      url.replace(`sig=${sig}`, `sig=${flipped}`),
      url.replace(/expires=(\d+)/, (_, n) => `expires=${Number(n) + 3600}`),
    ]) {
      const r = await fetchPath(bad);
      expect(r.status).toBe(403);
      expect((await r.json<{ error: { message: string } }>()).error.message).toContain("not valid");
    }
    // a valid signature of one run does not open another tenant's run
    const other = await finishedRun("dl-other");
    const r = await fetchPath(url.replace(ctx.runId, other.runId));
    expect(r.status).toBe(403);
    await r.arrayBuffer();
    const missing = await fetchPath(`${BASE}/api/1/downloads/${ctx.runId}`);
    expect(missing.status).toBe(400);
    await missing.arrayBuffer();
  });

  it("an expired link is 403 with the time it expired", async () => {
    const run = await runRow(ctx.runId);
    const expires = Math.floor(Date.now() / 1000) - 10;
    const sig = await signDownload(e, run.id, run.tenant_id, expires);
    const r = await fetchPath(`${BASE}/api/1/downloads/${run.id}?expires=${expires}&sig=${sig}`);
    expect(r.status).toBe(403);
    expect((await r.json<{ error: { message: string } }>()).error.message).toMatch(/expired at \d{4}-.*get a fresh link/);
  });
});

describe("retention", () => {
  it("the cron deletes files past expires_at and marks their runs expired", async () => {
    const keep = await finishedRun("ret-keep");
    const gone = await finishedRun("ret-gone");
    const goneRow = await runRow(gone.runId);
    const before = await call("GET", `/api/1/exports/${gone.exportId}/runs/${gone.runId}`, { token: gone.t.token });
    await e.DB.prepare("UPDATE export_runs SET expires_at = ?2 WHERE id = ?1").bind(gone.runId, Math.floor(Date.now() / 1000) - 1).run();

    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: new Date(), cron: "* * * * *" }), e, ctx);
    await waitOnExecutionContext(ctx);

    expect(await e.FILES.head(goneRow.file_key as string)).toBeNull();
    expect(await e.FILES.head(`exports/${gone.t.tenant.id}/${gone.exportId}/${gone.runId}/manifest.json`)).toBeNull();
    const after = await call("GET", `/api/1/exports/${gone.exportId}/runs/${gone.runId}`, { token: gone.t.token });
    expect(after.json).toMatchObject({ status: "finished", expired: true, download_url: null });
    // a link handed out before is now refused (its expiry was capped by the file's)
    const res = await fetchPath(before.json.download_url);
    expect(res.status).toBe(404);
    expect((await res.json<{ error: { message: string } }>()).error.message).toContain("deleted after its retention period");

    const kept = await runRow(keep.runId);
    expect(kept.expired_at).toBeNull();
    expect((await fileBytes(kept.file_key as string)).length).toBe(kept.bytes);
  });
});
