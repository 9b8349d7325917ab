import { describe, expect, it } from "vitest";
import { setupTenant } from "../helpers";
import { e, storedRows, upload, waitDone } from "./helpers";

/** Every parser case through the real routes, R2, queue consumer and D1. */

const HEADER = "timestamp,user_id,register_date,churn_date,kpi_id,value";
const enc = (s: string) => new TextEncoder().encode(s);
const concat = (...parts: (string | number[])[]) =>
  new Uint8Array(parts.flatMap((p) => (typeof p === "string" ? [...enc(p)] : p)));

async function ingest(route: "kpis" | "survey-data", body: string | Uint8Array) {
  const t = await setupTenant(`csv-${route}`);
  const r = await upload(t.apiKey, route, body);
  expect(r.status, r.text).toBe(201);
  expect(r.json).toMatchObject({ code: 201, message: "ingestion has been started", data: { estimated_time_to_complete: expect.any(Number) } });
  const done = await waitDone(t.apiKey, r.json.data.ingestion_id);
  return { t, done: done.json.data, rows: await storedRows(t.tenant.id, route === "kpis" ? "kpis" : "survey_responses") };
}

async function refused(body: string | Uint8Array) {
  const t = await setupTenant("csv-refused");
  const r = await upload(t.apiKey, "kpis", body);
  const staged = await e.FILES.list({ prefix: `ingestions/${t.tenant.id}/` });
  expect(staged.objects, "a refused file is not left in R2").toHaveLength(0);
  return r;
}

describe("CSV parser cases", () => {
  it("strips a UTF-8 BOM and reads CRLF line endings", async () => {
    const body = `\ufeff${HEADER}\r\n2020-03-12 00:00:00,1001,2019-11-18,,transaction_count,3.0\r\n2020-03-12 00:00:00,1002,,,logins,7\r\n`;
    const { done, rows } = await ingest("kpis", body);
    expect(done).toMatchObject({ status: "completed", rows_accepted: 2, rows_rejected: 0, errors: [], progress: 1 });
    expect(rows.map((r) => [r.timestamp, r.user_id, r.register_date, r.churn_date, r.kpi_id, r.value])).toEqual([
      ["2020-03-12 00:00:00", "1001", "2019-11-18", null, "transaction_count", 3],
      ["2020-03-12 00:00:00", "1002", null, null, "logins", 7],
    ]);
  });

  it("reads LF line endings, a last line without a newline, and skips blank lines", async () => {
    const body = `${HEADER}\n\n2020-03-12 00:00:00,1001,,,a,1\n\n2020-03-12 00:00:00,1002,,,b,2`;
    const { done, rows } = await ingest("kpis", body);
    expect(done).toMatchObject({ status: "completed", rows_accepted: 2, rows_rejected: 0 });
    expect(rows.map((r) => r.kpi_id)).toEqual(["a", "b"]);
  });

  it("keeps quoted delimiters, quoted newlines and doubled quotes, and counts lines inside quotes", async () => {
    const body =
      "timestamp,user_id,survey_id,question_id,answer,completed\n" +
      '2019-09-23 10:00:00,1001,s1,q1,"yes, definitely",true\n' +
      '2019-09-23 10:00:00,1001,s1,q2,"line one\nline two\r\nline three",1\n' +
      '2019-09-23 10:00:00,1001,s1,q3,"she said ""hi""",false\n' +
      "2019-09-23 10:00:00,1001,s1,q4,too,many,fields\n";
    const { done, rows } = await ingest("survey-data", body);
    expect(rows.map((r) => [r.question_id, r.answer, r.completed])).toEqual([
      ["q1", "yes, definitely", 1],
      ["q2", "line one\nline two\r\nline three", 1],
      ["q3", 'she said "hi"', 0],
    ]);
    // the quoted newlines put the ragged record on line 7, not line 5
    expect(done).toMatchObject({ status: "completed", rows_accepted: 3, rows_rejected: 1 });
    expect(done.errors).toEqual([{ line: 7, field: "", message: "the record has 7 fields, the header has 6" }]);
  });

  it("rejects ragged rows with their line numbers and keeps the others", async () => {
    const body = `${HEADER}\n2020-03-12 00:00:00,1,,,a,1\n2020-03-12 00:00:00,2,,,b\n2020-03-12 00:00:00,3,,,c,3\n2020-03-12 00:00:00,4,,,d,4,extra\n`;
    const { done, rows } = await ingest("kpis", body);
    expect(rows.map((r) => r.user_id)).toEqual(["1", "3"]);
    expect(done).toMatchObject({ rows_accepted: 2, rows_rejected: 2 });
    expect(done.errors).toEqual([
      { line: 3, field: "", message: "the record has 5 fields, the header has 6" },
      { line: 5, field: "", message: "the record has 7 fields, the header has 6" },
    ]);
  });

  it("rejects a record with invalid UTF-8 and keeps the valid ones", async () => {
    const body = concat(`${HEADER}\n2020-03-12 00:00:00,1,,,a,1\n2020-03-12 00:00:00,`, [0xc3, 0x28, 0xff], ",,,b,2\n2020-03-12 00:00:00,3,,,caf\u00e9,3\n");
    const { done, rows } = await ingest("kpis", body);
    expect(rows.map((r) => r.kpi_id)).toEqual(["a", "caf\u00e9"]);
    expect(done).toMatchObject({ rows_accepted: 2, rows_rejected: 1 });
    expect(done.errors).toEqual([{ line: 3, field: "", message: "the record is not valid UTF-8 (save the file as UTF-8)" }]);
  });

  it("rejects a badly quoted record and resumes on the next line", async () => {
    const body = `${HEADER}\n2020-03-12 00:00:00,1,,,"a"b,1\n2020-03-12 00:00:00,2,,,b,2\n`;
    const { done, rows } = await ingest("kpis", body);
    expect(rows.map((r) => r.user_id)).toEqual(["2"]);
    expect(done.errors).toEqual([{ line: 2, field: "", message: expect.stringContaining("closing quote must be followed by a comma") }]);
  });

  it("reports a quote left open at the end of the file on the line it opens", async () => {
    const body = `${HEADER}\n2020-03-12 00:00:00,1,,,a,1\n2020-03-12 00:00:00,2,,,"never closed,2\n`;
    const { done, rows } = await ingest("kpis", body);
    expect(rows).toHaveLength(1);
    expect(done).toMatchObject({ status: "completed", rows_accepted: 1, rows_rejected: 1 });
    expect(done.errors).toEqual([{ line: 3, field: "", message: "a quoted field is not closed before the end of the file" }]);
  });

  it("rejects values that do not fit the model, naming line and field", async () => {
    const body = `${HEADER}\n2020-03-12 00:00:00,1,,,a,not-a-number\n2020-13-45 00:00:00,2,,,b,2\n2020-03-12 00:00:00,,,,c,3\n2020-03-12 00:00:00,4,,,d,4\n`;
    const { done, rows } = await ingest("kpis", body);
    expect(rows.map((r) => r.user_id)).toEqual(["4"]);
    expect(done).toMatchObject({ rows_accepted: 1, rows_rejected: 3 });
    expect(done.errors.map((x: { line: number; field: string }) => [x.line, x.field])).toEqual([
      [2, "value"],
      [3, "timestamp"],
      [4, "user_id"],
    ]);
  });

  it("accepts a header-only file as an ingestion of zero rows", async () => {
    const { done, rows } = await ingest("kpis", `${HEADER}\n`);
    expect(done).toMatchObject({ status: "completed", rows_accepted: 0, rows_rejected: 0 });
    expect(rows).toHaveLength(0);
  });

  it("matches header names case-insensitively, in any order, and without optional columns", async () => {
    const { done, rows } = await ingest("kpis", " Value , KPI_ID,user_id,timestamp\n5,k,9,2020-03-12 00:00:00\n");
    expect(done).toMatchObject({ status: "completed", rows_accepted: 1 });
    expect(rows[0]).toMatchObject({ user_id: "9", kpi_id: "k", value: 5, register_date: null });
  });

  it("refuses an empty file", async () => {
    const r = await refused("");
    expect(r.status).toBe(422);
    expect(r.json).toEqual({ code: 422, message: "The file is empty: expected a header row and at least one data row", data: null });
  });

  it("refuses a file holding only a BOM and blank lines", async () => {
    const r = await refused("\ufeff\r\n\r\n");
    expect(r.status).toBe(422);
    expect(r.json.message).toMatch(/empty/);
  });

  it("refuses a header with a column the model does not have", async () => {
    const r = await refused("timestamp,user_id,kpi_id,value,colour\n2020-03-12 00:00:00,1,a,1,red\n");
    expect(r.status).toBe(422);
    expect(r.json.message).toBe(
      "The header has columns that kpis does not know: 'colour'; expected the columns timestamp,user_id,register_date,churn_date,kpi_id,value".replace(
        "columns that",
        "column that",
      ),
    );
  });

  it("refuses a header that lacks a required column", async () => {
    const r = await refused("timestamp,user_id,value\n2020-03-12 00:00:00,1,1\n");
    expect(r.status).toBe(422);
    expect(r.json.message).toMatch(/^The header lacks the required column kpi_id; expected the columns timestamp,user_id/);
  });

  it("refuses a header that names a column twice", async () => {
    const r = await refused("user_id,kpi_id,value,Value\n1,a,1,2\n");
    expect(r.status).toBe(422);
    expect(r.json.message).toMatch(/names the column 'value' twice/);
  });

  it("refuses a header that is not valid UTF-8", async () => {
    const r = await refused(concat("user_id,kpi_id,val", [0xff], "ue\n1,a,1\n"));
    expect(r.status).toBe(422);
    expect(r.json.message).toBe("The header row is not valid UTF-8 (save the file as UTF-8)");
  });
});
