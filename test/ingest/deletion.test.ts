import { describe, expect, it } from "vitest";
import { type ChainMessage, handleChainMessage } from "../../src/chain";
import type { Principal } from "../../src/env";
import { getUserDeletionView, requestUserDeletion, USER_COLUMNS, userDeletionJob } from "../../src/ingest/deletion";
import { createServices } from "../../src/services";
import { onlyJobs } from "../chain/jobs";
import { turnsDuring } from "../chain/turns";
import { call, setupTenant, waitFor } from "../helpers";
import { actions, countRows, e } from "./util";

/**
 * User-data deletion as a background chain: the request is recorded and answered at once, the
 * chain deletes the user's rows in bounded chunks (most event tables have no per-user index),
 * other users' and other tenants' rows stay, and the status is visible throughout.
 */

async function seed(apiKey: string) {
  const post = async (path: string, body: unknown) => {
    const r = await call("POST", path, { token: apiKey, body });
    expect(r.status, r.text).toBe(201);
  };
  await post("/v1/actions", { actions: [...actions(3, "alice"), ...actions(2, "bob"), ...actions(2, "carol")] });
  await post("/v1/logins", { users: [{ user_id: "alice" }, { user_id: "bob" }, { user_id: "carol" }] });
  await post("/v1/social-dynamics", {
    social_dynamics: [{ user_id: "bob", target_user_id: "alice", connection: "linked", interaction: "friend" }],
  });
  await post("/v1/records/participations", {
    participations: [{ user_id: "alice", stackinstanceid: "g1", participation_date: "2026-01-01 00:00:00" }],
  });
  await post("/v1/records/members", { members: [{ customer_id: "alice", created_at: "2026-01-01 00:00:00" }] });
}

async function principalOf(t: Awaited<ReturnType<typeof setupTenant>>): Promise<Principal> {
  const row = await e.DB.prepare("SELECT shard FROM tenants WHERE id = ?1").bind(t.tenant.id).first<{ shard: number }>();
  return { kind: "api_key", tenantId: t.tenant.id, shard: row?.shard ?? 0, subject: t.apiKeyId, permissions: ["ingest"] };
}

describe("POST /v1/user-data (background deletion)", () => {
  it("records the request, deletes the user's rows in the background and shows the status", async () => {
    const t = await setupTenant("del-a");
    const other = await setupTenant("del-b");
    await seed(t.apiKey);
    await seed(other.apiKey);

    const r = await call("POST", "/v1/user-data", { token: t.apiKey, body: { id: "alice" } });
    expect(r.status, r.text).toBe(202);
    expect(r.json.code).toBe(202);
    const id = r.json.data.request_id as string;
    expect(id).toMatch(/^udr_/);
    expect(r.json.data).toMatchObject({ id: "alice", deleted_rows: 0 });
    expect(["pending", "running", "done"]).toContain(r.json.data.status);
    expect(r.json.message).toContain(`/v1/user-data/${id}`);

    const done = await waitFor(async () => {
      const s = await call("GET", `/v1/user-data/${id}`, { token: t.apiKey });
      return s.json.data?.status === "done" ? s : undefined;
    }, "the deletion to finish");
    expect(done.json.data).toMatchObject({
      request_id: id,
      id: "alice",
      status: "done",
      deleted_rows: 7,
      by_model: { actions: 3, logins: 1, social_dynamics: 1, participations: 1, members: 1 },
      progress: null,
      error: null,
    });
    expect(done.json.data.finished_at).toBeGreaterThanOrEqual(done.json.data.requested_at);

    // alice is gone everywhere (her side of bob's interaction too); bob and carol stay.
    expect(await countRows(t.tenant.id, "actions", "user_id = 'alice'")).toBe(0);
    expect(await countRows(t.tenant.id, "social_dynamics")).toBe(0);
    expect(await countRows(t.tenant.id, "members")).toBe(0);
    expect(await countRows(t.tenant.id, "actions", "user_id = 'bob'")).toBe(2);
    expect(await countRows(t.tenant.id, "actions", "user_id = 'carol'")).toBe(2);
    expect(await countRows(t.tenant.id, "logins")).toBe(2);
    // The other tenant's alice is another person: untouched.
    expect(await countRows(other.tenant.id, "actions", "user_id = 'alice'")).toBe(3);
    expect(await countRows(other.tenant.id, "members")).toBe(1);

    // Audited with who asked and what went.
    const audit = await e.DB.prepare("SELECT actor, details FROM audit_log WHERE tenant_id = ?1 AND action = 'user_data.delete'")
      .bind(t.tenant.id)
      .all<{ actor: string; details: string }>();
    expect(audit.results).toHaveLength(1);
    expect(audit.results[0]?.actor).toBe(`api_key:${t.apiKeyId}`);
    expect(JSON.parse(audit.results[0]?.details ?? "{}")).toMatchObject({ request_id: id, user_id: "alice", rows: 7 });

    // Another tenant's request is not found; a second request deletes nothing more.
    expect((await call("GET", `/v1/user-data/${id}`, { token: other.apiKey })).status).toBe(404);
    expect((await call("GET", "/v1/user-data/udr_nope", { token: t.apiKey })).status).toBe(404);
    const again = await call("POST", "/v1/user-data", { token: t.apiKey, body: { id: "alice" } });
    const second = await waitFor(async () => {
      const s = await call("GET", `/v1/user-data/${again.json.data.request_id}`, { token: t.apiKey });
      return s.json.data?.status === "done" ? s : undefined;
    }, "the second deletion");
    expect(second.json.data.deleted_rows).toBe(0);
  });

  it("refuses a missing or empty id", async () => {
    const t = await setupTenant("del-bad");
    for (const body of [{}, { id: "" }, { id: 5 }, { user: "x" }]) {
      const r = await call("POST", "/v1/user-data", { token: t.apiKey, body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.message).toMatch(/"id"/);
    }
  });

  it("batches waiting requests into one pass, in chunks over many links, with progress visible", async () => {
    const t = await setupTenant("del-chunks");
    const other = await setupTenant("del-chunks-other");
    await seed(t.apiKey);
    await seed(other.apiKey);
    const sent: ChainMessage[] = [];
    const s = createServices(e, { jobs: { send: async (m) => void sent.push(m as ChainMessage) } });
    // Ranges of 2 row ids, indexed deletes of 1 row, 2 statements per link: every table takes
    // several statements and the job many links.
    const jobs = onlyJobs({ user_deletion: userDeletionJob({ scanRows: 2, indexedRows: 1, statementsPerLink: 2 }) });
    const p = await principalOf(t);
    const a = await requestUserDeletion(s, p, "alice");
    const c = await requestUserDeletion(s, p, "carol");
    expect([a.status, c.status]).toEqual(["pending", "pending"]);

    let links = 0;
    let sawProgress = false;
    const turnsPerDeletingLink: number[] = [];
    for (let m = sent.shift(); m; m = sent.shift()) {
      const { turns } = await turnsDuring(() => handleChainMessage(s, jobs, m));
      if (m.chain_id === `user_deletion:${a.request_id}` && m.position > 0) turnsPerDeletingLink.push(turns);
      links++;
      const v = await getUserDeletionView(s, t.tenant.id, c.request_id);
      if (v?.status === "running" && v.progress && v.progress.tables_done > 0 && v.progress.tables_done < v.progress.tables) sawProgress = true;
      if (links > 5000) throw new Error("the deletion chain does not end");
    }
    expect(sawProgress).toBe(true);
    expect(links).toBeGreaterThan(USER_COLUMNS.length / 2);
    // Other requests get the runtime once per delete statement (yieldToRuntime): 1 or 2 a link here.
    expect(turnsPerDeletingLink.length).toBeGreaterThan(USER_COLUMNS.length / 2);
    for (const turns of turnsPerDeletingLink) expect(turns).toBeGreaterThanOrEqual(1);
    expect(Math.max(...turnsPerDeletingLink)).toBe(2);

    const va = await getUserDeletionView(s, t.tenant.id, a.request_id);
    const vc = await getUserDeletionView(s, t.tenant.id, c.request_id);
    expect(va).toMatchObject({ status: "done", deleted_rows: 7, by_model: { actions: 3, logins: 1, social_dynamics: 1, participations: 1, members: 1 } });
    expect(vc).toMatchObject({ status: "done", deleted_rows: 3, by_model: { actions: 2, logins: 1 } });
    // One pass for both: carol's request was claimed by alice's batch.
    const rows = await e.DB.prepare("SELECT id, batch_id FROM user_deletions WHERE tenant_id = ?1").bind(t.tenant.id).all<{ id: string; batch_id: string }>();
    expect(new Set(rows.results.map((r) => r.batch_id))).toEqual(new Set([a.request_id]));

    expect(await countRows(t.tenant.id, "actions", "user_id IN ('alice', 'carol')")).toBe(0);
    expect(await countRows(t.tenant.id, "actions", "user_id = 'bob'")).toBe(2);
    expect(await countRows(t.tenant.id, "logins", "user_id = 'bob'")).toBe(1);
    expect(await countRows(other.tenant.id, "actions")).toBe(7);
    expect(await countRows(other.tenant.id, "logins")).toBe(3);
  });
});
