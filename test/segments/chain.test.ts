import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { type ChainMessage, handleChainMessage } from "../../src/chain";
import { getChainUnscoped } from "../../src/db/chains";
import worker from "../../src/index";
import { chainJobs } from "../../src/jobs";
import type { JobMessage } from "../../src/jobs/messages";
import { recomputeSegment } from "../../src/segments/service";
import { type Services, createServices } from "../../src/services";
import { call, waitFor } from "../helpers";
import { type Player, e, ids, personaTenant, players, pushLogins, surveyCsv, uploadSurvey, waitReady } from "./helpers";
import { countMembers, countVectors, waitIdle } from "./rows";

/**
 * The recompute chain itself: chunking does not change the result, a link that fails after its
 * shard writes runs again without changing it either, the cron recomputes stale segments, and
 * persona membership is exportable like any model.
 */

let t: Awaited<ReturnType<typeof personaTenant>>;
let ps: Player[];
let reference: { personas: string[][]; traits: unknown; computed_at: number };

const snapshot = async () => ({
  personas: await Promise.all([1, 2, 3].map((p) => ids(t.apiKey, "default", p))),
  traits: (await call("POST", "/v1/segments/default/personas/all/traits", { token: t.apiKey })).json.data,
});

/** Tiny chunks: every pass takes many queue messages. */
const TINY = { SEGMENT_BUILD_USERS: "13", SEGMENT_CHUNK_USERS: "31", SEGMENT_CHUNKS_PER_LINK: "1" };

/** Services with tiny chunks whose queue records messages; `drive` delivers them one by one (no queue pacing). */
function manual(base: Services = createServices({ ...e, ...TINY } as typeof e)) {
  const sent: JobMessage[] = [];
  return { sent, s: { ...base, jobs: { send: async (m: JobMessage) => void sent.push(m) } } as Services };
}

async function drive(s: Services, sent: JobMessage[]): Promise<number> {
  let delivered = 0;
  while (sent.length) {
    await handleChainMessage(s, chainJobs, sent.shift() as ChainMessage);
    if (++delivered > 2000) throw new Error("the chain does not end");
  }
  return delivered;
}

beforeAll(async () => {
  t = await personaTenant("personas-chain");
  ps = players(29);
  await uploadSurvey(t.apiKey, surveyCsv(ps));
  await pushLogins(t.apiKey, ps);
  expect((await call("PATCH", "/api/1/segments/default", { token: t.token, body: { personas: 3 } })).status).toBe(200);
  const ready = await waitReady(t.token, "default");
  reference = { ...(await snapshot()), computed_at: ready.computed_at };
}, 60_000);

describe("segment recompute chain", () => {
  it("gives the same personas in chunks of 13 and 31 users, one chunk per queue message", async () => {
    await waitIdle(t.tenant.id);
    const { s, sent } = manual();
    const { view, started } = await recomputeSegment(s, t.tenant.id, "default");
    expect(started).toBe(true);
    expect(view.status).toBe("computing");
    const links = await drive(s, sent);
    const seg = await e.DB.prepare("SELECT run_id FROM segments WHERE tenant_id = ?1 AND id = 'default'").bind(t.tenant.id).first<{ run_id: string }>();
    const chain = await getChainUnscoped(s.db, `segment:${seg?.run_id}`);
    expect(chain?.status).toBe("done");
    // 310 users: 24 build chunks, then 10 chunks per pass over the vectors (2 seeding, the iterations, the write).
    expect(links).toBeGreaterThan(24 + 10 * 4);
    const ready = await waitReady(t.token, "default", reference.computed_at);
    expect(await snapshot()).toEqual({ personas: reference.personas, traits: reference.traits });
    reference.computed_at = ready.computed_at;
  }, 60_000);

  it("runs a link again after it failed past its shard writes, without changing the result", async () => {
    // A recording queue (this test delivers each message) and a control database whose
    // checkpoint batch fails the first time for every link: each link's shard writes run twice.
    const sent: JobMessage[] = [];
    const base = createServices({ ...e, ...TINY } as typeof e);
    let checkpoints = 0;
    let failures = 0;
    const db = new Proxy(base.db, {
      get(target, prop, receiver) {
        if (prop !== "batch") return Reflect.get(target, prop, receiver);
        return async (stmts: Parameters<typeof target.batch>[0]) => {
          const sql = (stmts as unknown as { toSQL?: () => { sql: string } }[]).map((x) => x.toSQL?.().sql ?? "").join(";");
          // Links run one after the other: failing every other checkpoint fails each link's first attempt.
          if (/update "segment_runs" set/i.test(sql) && checkpoints++ % 2 === 0) {
            failures++;
            throw new Error("D1 went away before the checkpoint");
          }
          return target.batch(stmts);
        };
      },
    });
    const s: Services = { ...base, db, jobs: { send: async (m) => void sent.push(m) } };
    await waitIdle(t.tenant.id);
    const { started } = await recomputeSegment(s, t.tenant.id, "default");
    expect(started).toBe(true);
    await drive(s, sent);
    expect(failures).toBeGreaterThan(24 + 10 * 4);
    const ready = await waitReady(t.token, "default", reference.computed_at);
    expect(ready.users).toBe(ps.length);
    expect(await snapshot()).toEqual({ personas: reference.personas, traits: reference.traits });
    expect(await countMembers(t.tenant.id, "default")).toBe(ps.length);
    expect(await countVectors(t.tenant.id, "default")).toBe(0);
    reference.computed_at = ready.computed_at;
  }, 120_000);

  it("persona_members is exportable like any model (and never ingested)", async () => {
    const exp = await call("POST", "/api/1/exports", {
      token: t.token,
      body: {
        name: "personas",
        model: "persona_members",
        schedule: { type: "manual" },
        fields: [{ from: "user_id" }, { from: "persona" }],
        filters: [[{ field: "segment", op: "eq", value: "default" }, { field: "persona", op: "eq", value: 2 }]],
        format: { type: "csv" },
      },
    });
    expect(exp.status, exp.text).toBe(201);
    const run = await call("POST", `/api/1/exports/${exp.json.id}/runs`, { token: t.token });
    const done = await waitFor(async () => {
      const r = await call("GET", `/api/1/exports/${exp.json.id}/runs/${run.json.id}`, { token: t.token });
      return r.json.status === "finished" || r.json.status === "failed" ? r.json : undefined;
    }, "the export run");
    expect(done.status, done.error).toBe("finished");
    const { SELF } = await import("cloudflare:test");
    const csv = await (await SELF.fetch(done.download_url)).text();
    const lines = csv.trim().split(/\r?\n/);
    expect(lines[0]).toBe("user_id,persona");
    expect(lines.slice(1).map((l) => l.split(",")[0]).sort()).toEqual([...reference.personas[1]!].sort());
    const push = await call("POST", "/v1/records/persona_members", { token: t.apiKey, body: { records: [{ segment: "x", persona: 1, user_id: "u", distance: 0, computed_at: "2026-01-01 00:00:00" }] } });
    expect(push.status).toBe(404);
  });

  it("computes a default segment on first use, and the cron recomputes stale segments once", async () => {
    const fresh = await personaTenant("personas-cron");
    await uploadSurvey(fresh.apiKey, surveyCsv(players(31).slice(0, 20)));
    const first = await call("POST", "/v1/segments/default/personas/all/users", { token: fresh.apiKey });
    expect(first.status).toBe(409);
    expect(first.json.message).toMatch(/first recompute is running/);
    const seg = await waitReady(fresh.token, "default");
    expect(seg).toMatchObject({ users: 20, personas: 4 });
    await waitIdle(fresh.tenant.id);
    const runs = async () => (await e.DB.prepare("SELECT count(*) AS n FROM segment_runs WHERE tenant_id = ?1").bind(fresh.tenant.id).first<{ n: number }>())?.n;
    const cron = async () => {
      const ctx = createExecutionContext();
      await worker.scheduled(createScheduledController({ scheduledTime: new Date(), cron: "* * * * *" }), e, ctx);
      await waitOnExecutionContext(ctx);
    };
    // A fresh result is left alone.
    await cron();
    expect(await runs()).toBe(1);
    // A day later it is stale: one recompute, not one per tick.
    await e.DB.prepare("UPDATE segments SET computed_at = computed_at - 90000, defined_at = defined_at - 90000 WHERE tenant_id = ?1").bind(fresh.tenant.id).run();
    await e.DB.prepare("UPDATE segment_runs SET created_at = created_at - 90000 WHERE tenant_id = ?1").bind(fresh.tenant.id).run();
    await cron();
    await cron();
    expect(await runs()).toBe(2);
    await waitReady(fresh.token, "default", seg.computed_at - 90000);
  });
});
