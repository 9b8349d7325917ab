import { describe, expect, it } from "vitest";
import { type ChainMessage, LEASE_SECONDS, handleChainMessage, sweepStalledChains } from "../../src/chain";
import { chainJobs } from "../../src/jobs";
import { type Services, createServices, fixedClock } from "../../src/services";
import { setupTenant } from "../helpers";
import { type Driver, drain, e, failingControlBatch, manualEnv, status, storedRows, uploadWith } from "./helpers";

/**
 * A CSV ingestion whose chain loses a link mid-file (a dropped queue message, a killed worker)
 * is resumed by the chain sweep once the link's lease ran out, and ends with exactly the rows
 * and errors of an ingestion that was never interrupted.
 */

const HEADER = "timestamp,user_id,survey_id,question_id,answer,completed";

/** Quoted commas and newlines, and a bad row every 7, so chunks split records and carry errors. */
function surveyFile(n: number): string {
  const lines = [HEADER];
  for (let i = 1; i <= n; i++) {
    if (i % 7 === 0) lines.push(`2019-09-23 10:00:00,u${i},s,q${i},"x",maybe`);
    else lines.push(`2019-09-23 10:00:00,u${i},s,q${i},"a, b\n${i}",${i % 2 ? "true" : "0"}`);
  }
  return `${lines.join("\n")}\n`;
}

const SMALL = { CSV_CHUNK_BYTES: "90" };
const BODY = surveyFile(30);
const project = (rows: Record<string, unknown>[]) => rows.map((r) => [r.timestamp, r.user_id, r.question_id, r.answer, r.completed]);

/** What the same file gives with every message delivered. */
async function uninterrupted() {
  const t = await setupTenant("csv-whole");
  const d = manualEnv(SMALL);
  const r = await uploadWith(d, t.apiKey, "survey-data", BODY);
  expect(r.status, r.text).toBe(201);
  await drain(d);
  const s = (await status(t.apiKey, r.json.data.ingestion_id, "?errors_limit=1000")).json.data;
  expect(s).toMatchObject({ status: "completed", rows_accepted: 26, rows_rejected: 4 });
  return { rows: project(await storedRows(t.tenant.id, "survey_responses")), errors: s.errors };
}

/** An upload whose chain the test drives with its own clock, through the chain's own handler. */
async function started(name: string) {
  const t = await setupTenant(name);
  const d = manualEnv(SMALL);
  const r = await uploadWith(d, t.apiKey, "survey-data", BODY);
  expect(r.status, r.text).toBe(201);
  const id = r.json.data.ingestion_id as string;
  const clock = fixedClock(Date.now());
  const services = (over: Partial<Driver["env"]> = {}): Services => createServices({ ...d.env, ...over }, { clock });
  const chainId = `csv_ingest:${id}`;
  const mine = () => d.sent.filter((m) => (m as ChainMessage).chain_id === chainId) as ChainMessage[];
  const take = () => d.sent.shift() as ChainMessage;
  const run = async () => {
    for (let m = take(), n = 0; m; m = take(), n++) {
      if (n > 500) throw new Error("chain does not end");
      await handleChainMessage(services(), chainJobs, m);
    }
  };
  const result = async () => {
    const s = (await status(t.apiKey, id, "?errors_limit=1000")).json.data;
    return { s, rows: project(await storedRows(t.tenant.id, "survey_responses")) };
  };
  return { t, d, id, clock, services, mine, take, run, result, count: async () => (await storedRows(t.tenant.id, "survey_responses")).length };
}

describe("CSV ingestion: a lost link resumes", () => {
  it("a message lost mid-file is sent again by the sweep after LEASE_SECONDS, and the rows equal an uninterrupted ingestion", async () => {
    const whole = await uninterrupted();
    const x = await started("csv-lost");
    for (let i = 0; i < 3; i++) await handleChainMessage(x.services(), chainJobs, x.take());
    const lost = x.take();
    expect(lost).toMatchObject({ type: "chain", chain_id: `csv_ingest:${x.id}` });
    expect(x.d.sent).toHaveLength(0);
    const partial = await x.count();
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(whole.rows.length);

    // Within the lease the sweep leaves it alone: the message may still be in the queue.
    x.clock.advance(LEASE_SECONDS - 1);
    await sweepStalledChains(x.services());
    expect(x.mine()).toHaveLength(0);
    x.clock.advance(2);
    await sweepStalledChains(x.services());
    expect(x.mine()).toEqual([lost]);
    // Swept once: the next tick does not send it again while the resent link is leased.
    await sweepStalledChains(x.services());
    expect(x.mine()).toHaveLength(1);

    x.d.sent.splice(0, x.d.sent.length, ...x.mine());
    await x.run();
    const { s, rows } = await x.result();
    expect(rows).toEqual(whole.rows);
    expect(s.errors).toEqual(whole.errors);
    expect(s).toMatchObject({ status: "completed", rows_accepted: 26, rows_rejected: 4, bytes_processed: BODY.length, progress: 1 });
  });

  it("a worker killed after writing a chunk's rows and before its checkpoint is resumed after its lease, with no row twice", async () => {
    const whole = await uninterrupted();
    const x = await started("csv-killed");
    await handleChainMessage(x.services(), chainJobs, x.take());
    const before = await x.count();
    const m = x.take();
    // The checkpoint's batch never returns: the process died there, holding the link.
    void handleChainMessage(x.services({ DB: failingControlBatch(e.DB, () => new Promise<never>(() => {})) }), chainJobs, m);
    for (let i = 0; i < 100 && (await x.count()) === before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await x.count(), "the dead link's rows are on the shard").toBeGreaterThan(before);
    expect(x.d.sent).toHaveLength(0);

    x.clock.advance(LEASE_SECONDS + 1);
    await sweepStalledChains(x.services());
    expect(x.mine()).toEqual([m]);
    x.d.sent.splice(0, x.d.sent.length, ...x.mine());
    await x.run();
    const { s, rows } = await x.result();
    expect(rows).toEqual(whole.rows);
    expect(s.errors).toEqual(whole.errors);
    expect(s).toMatchObject({ status: "completed", rows_accepted: 26, rows_rejected: 4 });
  });

  it("a link that keeps failing is retried with backoff, then the ingestion is marked failed with the line it stopped at", async () => {
    const x = await started("csv-gives-up");
    await handleChainMessage(x.services(), chainJobs, x.take());
    const broken = x.services({ DB: failingControlBatch(e.DB) });
    for (let i = 0; i < 10 && x.d.sent.length; i++) await handleChainMessage(broken, chainJobs, x.take());
    const { s } = await x.result();
    expect(s.status).toBe("failed");
    expect(s.error).toMatch(/^Processing kept failing from line \d+ and was given up after its retries; the rows before that line were ingested/);
    expect(s.rows_accepted).toBeGreaterThan(0);
    const chain = await e.DB.prepare("SELECT status, last_error FROM chains WHERE id = ?1").bind(`csv_ingest:${x.id}`).first();
    expect(chain).toMatchObject({ status: "failed" });
    expect(String(chain?.last_error)).toMatch(/simulated crash before the checkpoint \(gave up after 5 attempts\)/);
  });
});
