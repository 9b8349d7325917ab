import { describe, expect, it } from "vitest";
import { MODELS } from "../../src/models";
import { classifyKey } from "../../src/ingest/sources/layout";
import { call } from "../helpers";

describe("source layout", () => {
  it("maps the first folder under the prefix to any catalog model, at any depth, by extension", () => {
    expect(MODELS.length).toBeGreaterThan(20);
    for (const m of MODELS.filter((x) => !x.derived)) expect(classifyKey("", `${m.name}/x.ndjson`)).toEqual({ model: m.name, format: "ndjson", gzip: false, encrypted: false });
    // Rows ferry computes itself (persona membership) are never ingested.
    expect(classifyKey("", "persona_members/x.ndjson")).toEqual({ skip: "persona_members is written by ferry, not ingested" });
    expect(classifyKey("p/", "p/members/date=2026-11-01/load_id=z/part-0.csv.gz")).toEqual({ model: "members", format: "csv", gzip: true, encrypted: false });
    expect(classifyKey("", "purchases/purchases_1600089751.JSONL")).toEqual({ model: "purchases", format: "ndjson", gzip: false, encrypted: false });
    expect(classifyKey("", "level_ups/a/b/c/d.parquet")).toEqual({ model: "level_ups", format: "parquet", gzip: false, encrypted: false });
    for (const [key, why] of [
      ["purchases.ndjson", /data-type folder/],
      ["nope/a.ndjson", /unknown data-type folder 'nope'/],
      ["purchases/_SUCCESS", /marker/],
      ["purchases/.hidden.ndjson", /marker/],
      ["purchases/a.txt", /not \.ndjson/],
      ["purchases/a", /not \.ndjson/],
      ["purchases/a.parquet.gz", /gzipped Parquet/],
    ] as const) {
      const r = classifyKey("", key);
      expect("skip" in r && r.skip, key).toMatch(why);
    }
  });

  it("is described in /openapi.json", async () => {
    const doc = (await call("GET", "/openapi.json")).json;
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/api/1/sources", "/api/1/sources/{id}", "/api/1/sources/{id}/test", "/api/1/sources/{id}/files"]));
  });
});
