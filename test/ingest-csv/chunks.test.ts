import { describe, expect, it } from "vitest";
import { type ChainMessage, handleChainMessage } from "../../src/chain";
import { chainJobs } from "../../src/jobs";
import { createServices } from "../../src/services";
import { turnsDuring } from "../chain/turns";
import { setupTenant } from "../helpers";
import { type Driver, deliver, drain, e, failingControlBatch, manualEnv, runCron, status, storedRows, uploadWith } from "./helpers";

/**
 * The ingestion's chain (`csv_ingest`), driven message by message through the worker's queue()
 * entry point (a recording JOBS queue stands in for delivery so each step is deterministic).
 */

const HEADER = "timestamp,user_id,survey_id,question_id,answer,completed";

/** A survey file whose quoted answers hold commas, CRLF/LF newlines and quotes, with bad rows between. */
function surveyFile(n: number): string {
  const lines = [HEADER];
  for (let i = 1; i <= n; i++) {
    const answer = i % 3 === 0 ? `"multi\r\nline, ${i}\nwith ""quotes"""` : i % 3 === 1 ? `plain ${i}` : `"a, b ${i}"`;
    if (i % 11 === 0) lines.push(`2019-09-23 10:00:00,u${i},s,q${i}`); // ragged
    else if (i % 13 === 0) lines.push(`2019-09-23 10:00:00,,s,q${i},${answer},1`); // no user_id
    else lines.push(`2019-09-23 10:00:00,u${i},s,q${i},${answer},${i % 2 ? "true" : "0"}`);
  }
  return `${lines.join("\r\n")}\r\n`;
}

async function ingestManually(body: string | Uint8Array, overrides: Record<string, string>) {
  const t = await setupTenant("csv-chunks");
  const d = manualEnv(overrides);
  const r = await uploadWith(d, t.apiKey, "survey-data", body);
  expect(r.status, r.text).toBe(201);
  const delivered = await drain(d);
  const s = await status(t.apiKey, r.json.data.ingestion_id, "?errors_limit=1000");
  const rows = await storedRows(t.tenant.id, "survey_responses");
  return { t, d, id: r.json.data.ingestion_id as string, delivered, s: s.json.data, rows };
}

const project = (rows: Record<string, unknown>[]) => rows.map((r) => [r.user_id, r.question_id, r.answer, r.completed]);

describe("chunked CSV ingestion", () => {
  it("gives the same rows and errors whatever the chunk size (records split across ranges)", async () => {
    const body = surveyFile(60);
    const whole = await ingestManually(body, { CSV_CHUNK_BYTES: String(1 << 20) });
    expect(whole.delivered).toHaveLength(1);
    expect(whole.s).toMatchObject({ status: "completed", rows_rejected: 9 });
    expect(whole.s.rows_accepted).toBe(60 - 9);
    for (const size of [16, 64, 101]) {
      const chunked = await ingestManually(body, { CSV_CHUNK_BYTES: String(size) });
      expect(chunked.delivered.length, `chunk ${size}`).toBeGreaterThan(5);
      expect(project(chunked.rows), `chunk ${size}`).toEqual(project(whole.rows));
      expect(chunked.s.errors, `chunk ${size}`).toEqual(whole.s.errors);
      expect(chunked.s).toMatchObject({ status: "completed", rows_accepted: 51, rows_rejected: 9, bytes_processed: body.length, progress: 1 });
    }
  });

  it("reports line numbers that count the newlines inside quoted fields", async () => {
    const { s } = await ingestManually(surveyFile(13), { CSV_CHUNK_BYTES: "50" });
    // rows 3, 6 and 9 span three lines each; record 11 starts on line 1 + 10 + 3*2 + 1 = 18
    expect(s.errors).toEqual([
      { line: 18, field: "", message: "the record has 4 fields, the header has 6" },
      { line: 22, field: "user_id", message: "user_id is required and must not be empty" },
    ]);
  });

  it("handles at most CSV_CHUNK_ROWS records per message", async () => {
    const { delivered, s } = await ingestManually(surveyFile(20), { CSV_CHUNK_ROWS: "3" });
    expect(delivered).toHaveLength(Math.ceil(20 / 3));
    expect(s).toMatchObject({ status: "completed", rows_accepted: 18, rows_rejected: 2 });
  });

  it("gives the runtime a turn once per chunk, so requests are served while a link runs (yieldToRuntime)", async () => {
    const t = await setupTenant("csv-turns");
    const d = manualEnv({ CSV_CHUNK_ROWS: "3" });
    const r = await uploadWith(d, t.apiKey, "survey-data", surveyFile(20));
    expect(r.status, r.text).toBe(201);
    const turns: number[] = [];
    for (let m = d.sent.shift(); m; m = d.sent.shift()) {
      turns.push((await turnsDuring(() => handleChainMessage(createServices(d.env), chainJobs, m as ChainMessage))).turns);
    }
    expect(turns).toEqual(new Array(Math.ceil(20 / 3)).fill(1));
    expect((await status(t.apiKey, r.json.data.ingestion_id)).json.data).toMatchObject({ status: "completed", rows_accepted: 18 });
  });

  it("writes nothing twice when every message is delivered again", async () => {
    const { t, d, id, delivered, s, rows } = await ingestManually(surveyFile(30), { CSV_CHUNK_BYTES: "64" });
    for (const body of delivered) expect(await deliver(d, body)).toBe(true);
    expect(d.sent, "a redelivered message sends nothing").toHaveLength(0);
    expect(project(await storedRows(t.tenant.id, "survey_responses"))).toEqual(project(rows));
    const again = await status(t.apiKey, id, "?errors_limit=1000");
    expect(again.json.data).toEqual(s);
  });

  it("writes a chunk's rows once when the worker died after the write but before the checkpoint", async () => {
    const t = await setupTenant("csv-crash");
    const d = manualEnv({ CSV_CHUNK_BYTES: "64" });
    const body = surveyFile(12);
    const r = await uploadWith(d, t.apiKey, "survey-data", body);
    const id = r.json.data.ingestion_id;
    const first = d.sent.shift();
    const before = await e.DB.prepare("SELECT * FROM ingestions WHERE id = ?1").bind(id).first<Record<string, unknown>>();
    // The control-DB batch that records the checkpoint fails: the rows are on the shard, the checkpoint is not.
    const crashing: Driver = { sent: d.sent, env: { ...d.env, DB: failingControlBatch(e.DB) } };
    expect(await deliver(crashing, first)).toBe(true);
    const written = (await storedRows(t.tenant.id, "survey_responses")).length;
    expect(written).toBeGreaterThan(0);
    const after = await e.DB.prepare("SELECT * FROM ingestions WHERE id = ?1").bind(id).first<Record<string, unknown>>();
    expect(after).toMatchObject({ next_offset: before?.next_offset, next_line: before?.next_line, chunks: 0, rows_accepted: 0 });
    // The chain counted the failure and sent the same link again.
    expect(d.sent).toEqual([first]);
    expect(await deliver(d, d.sent.shift())).toBe(true);
    expect(await storedRows(t.tenant.id, "survey_responses")).toHaveLength(written);
    await drain(d);
    const s = await status(t.apiKey, id);
    expect(s.json.data).toMatchObject({ status: "completed", rows_accepted: 11, rows_rejected: 1 });
    expect(await storedRows(t.tenant.id, "survey_responses")).toHaveLength(11);
  });

  it("a redelivered message does not resend a lost next message (the chain sweep does, see resume.test.ts)", async () => {
    const t = await setupTenant("csv-lost-send");
    const d = manualEnv({ CSV_CHUNK_BYTES: "64" });
    const r = await uploadWith(d, t.apiKey, "survey-data", surveyFile(10));
    const first = d.sent.shift();
    expect(await deliver(d, first)).toBe(true);
    expect(d.sent).toHaveLength(1);
    d.sent.length = 0; // the send of the next link is lost
    expect(await deliver(d, first)).toBe(true);
    expect(d.sent, "a stale link neither runs nor sends").toHaveLength(0);
    expect((await status(t.apiKey, r.json.data.ingestion_id)).json.data).toMatchObject({ status: "processing", rows_accepted: 1 });
  });

  it("ignores a message for another position, and writes only for the chain's own tenant whatever the message says", async () => {
    const a = await setupTenant("csv-msg-a");
    const b = await setupTenant("csv-msg-b");
    const d = manualEnv({ CSV_CHUNK_BYTES: "64" });
    const r = await uploadWith(d, a.apiKey, "survey-data", surveyFile(10));
    const msg = d.sent.shift() as ChainMessage;
    expect(msg).toMatchObject({ type: "chain", chain_id: `csv_ingest:${r.json.data.ingestion_id}` });
    expect(await deliver(d, { ...msg, position: msg.position + 1 })).toBe(true);
    expect(d.sent).toHaveLength(0);
    expect((await status(a.apiKey, r.json.data.ingestion_id)).json.data).toMatchObject({ status: "pending", bytes_processed: HEADER.length + 2 });
    // A message carries no tenant: the chain row, written by the upload, says whose data it is.
    expect(await deliver(d, { ...msg, tenant_id: b.tenant.id })).toBe(true);
    expect(await storedRows(b.tenant.id, "survey_responses")).toHaveLength(0);
    expect(await storedRows(a.tenant.id, "survey_responses")).toHaveLength(1);
  });

  it("marks the ingestion failed when its chunk message lands on the dead-letter queue", async () => {
    const t = await setupTenant("csv-dlq");
    const d = manualEnv({ CSV_CHUNK_BYTES: "64" });
    const r = await uploadWith(d, t.apiKey, "survey-data", surveyFile(6));
    expect(await deliver(d, d.sent.shift())).toBe(true);
    const stuck = d.sent.shift();
    expect(await deliver(d, stuck, "ferry-jobs-dlq")).toBe(true);
    const s = (await status(t.apiKey, r.json.data.ingestion_id)).json.data;
    expect(s.status).toBe("failed");
    expect(s.error).toMatch(/^Processing kept failing from line 3 and was given up after its retries/);
    expect(s.rows_accepted).toBe(1);
  });

  it("resends, from the cron trigger, the message of an ingestion whose chain was lost", async () => {
    const t = await setupTenant("csv-stalled");
    const d = manualEnv({ CSV_CHUNK_BYTES: "64" });
    const r = await uploadWith(d, t.apiKey, "survey-data", surveyFile(6));
    const id = r.json.data.ingestion_id;
    const mine = () => d.sent.filter((m) => (m as ChainMessage).chain_id === `csv_ingest:${id}`);
    expect(await deliver(d, d.sent.shift())).toBe(true);
    const lost = d.sent.shift();
    await runCron(d);
    expect(mine(), "a live chain is left alone").toHaveLength(0);
    // Its lease runs out (as LEASE_SECONDS later): the chain sweep of the next tick resends it.
    await e.DB.prepare("UPDATE chains SET lease_until = lease_until - 3600 WHERE id = ?1").bind(`csv_ingest:${id}`).run();
    await runCron(d);
    expect(mine()).toEqual([lost]);
    await runCron(d);
    expect(mine(), "resent once, not every minute").toHaveLength(1);
    d.sent.splice(0, d.sent.length, ...mine());
    await drain(d);
    expect((await status(t.apiKey, id)).json.data).toMatchObject({ status: "completed", rows_accepted: 6 });
  });

  it("fails the ingestion, with the line, when a record has no end within the longest record size", async () => {
    const body = `${HEADER}\n2019-09-23 10:00:00,u1,s,q1,ok,1\n2019-09-23 10:00:00,u2,s,q2,"${"x".repeat(1024 * 1024 + 10)}\n`;
    const { s, rows } = await ingestManually(body, { CSV_CHUNK_BYTES: "65536" });
    expect(rows).toHaveLength(1);
    expect(s).toMatchObject({ status: "failed", rows_accepted: 1 });
    expect(s.error).toBe("Line 3: no end of record within 1048576 bytes (is a quote left open?); nothing after this line was read");
  });

  it("stages a file larger than one R2 multipart part byte for byte and ingests all of it", async () => {
    const lines = [HEADER];
    let i = 0;
    let size = HEADER.length + 1;
    while (size < 6 * 1024 * 1024) {
      i++;
      const line = `2019-09-23 10:00:00,user-${i},survey,question-${i},"answer ${i}, padded ${"p".repeat(40)}",true`;
      lines.push(line);
      size += line.length + 1;
    }
    const body = `${lines.join("\n")}\n`;
    const t = await setupTenant("csv-big");
    const d = manualEnv({ CSV_CHUNK_BYTES: String(512 * 1024) });
    const r = await uploadWith(d, t.apiKey, "survey-data", body);
    expect(r.status, r.text).toBe(201);
    const staged = await e.FILES.get(`ingestions/${t.tenant.id}/${r.json.data.ingestion_id}.csv`);
    expect(staged?.size).toBe(body.length);
    expect(await staged?.text()).toBe(body);
    await drain(d);
    const s = await status(t.apiKey, r.json.data.ingestion_id);
    expect(s.json.data).toMatchObject({ status: "completed", rows_accepted: i, rows_rejected: 0, file_bytes: body.length });
    expect(await e.FILES.head(`ingestions/${t.tenant.id}/${r.json.data.ingestion_id}.csv`), "staged file removed when done").toBeNull();
  });
});
