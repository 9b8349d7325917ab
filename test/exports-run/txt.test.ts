import { SELF } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { BASE, call, setupTenant, waitFor } from "../helpers";
import { SLOW, seedParticipations, tenantShard } from "./helpers";

vi.setConfig(SLOW);

describe("a txt (fixed width) export, end to end", () => {
  it("created without a schedule it runs at once through the queue, gzipped, and reads back by column", async () => {
    const t = await setupTenant("txt-e2e");
    await seedParticipations(t.tenant.id, 300);
    const r = await call("POST", "/api/1/exports", {
      token: t.token,
      body: {
        name: "fixed",
        model: "participations",
        fields: [{ from: "user_id", to: "user", width: 12 }, { from: "stackid", width: 6 }, { from: "value" }, { from: "has_won" }, { from: "participation_date" }],
        format: { type: "txt" },
        compression: "gzip",
      },
    });
    expect(r.status, r.text).toBe(201);
    const run = await waitFor(async () => {
      const got = (await call("GET", `/api/1/exports/${r.json.id}/runs/${r.json.run.id}`, { token: t.token })).json;
      return got.status === "pending" || got.status === "processing" ? undefined : got;
    }, "the txt run", 3000);
    expect(run).toMatchObject({ status: "finished", rows: 300, file_name: "fixed.txt.gz" });
    const u = new URL(run.download_url);
    const res = await SELF.fetch(`${BASE}${u.pathname}${u.search}`);
    expect(res.status).toBe(200);
    const file = await new Response(res.body!.pipeThrough(new DecompressionStream("gzip"))).text();

    // widths: 12 and 6 as given; value 20 (integer); has_won 7 (its header, wider than 0/1); the date 19 (its header is 18)
    const widths = [12, 6, 20, 7, 19];
    const lines = file.split("\n");
    expect(lines.pop()).toBe("");
    const cells = lines.map((l) => {
      const c = [...l];
      expect(c).toHaveLength(64);
      let at = 0;
      return widths.map((w) => {
        const s = c.slice(at, at + w).join("").trimEnd();
        at += w;
        return s;
      });
    });
    const { results } = await (await tenantShard(t.tenant.id))
      .prepare("SELECT user_id, stackid, value, has_won, participation_date FROM participations WHERE tenant_id = ?1 ORDER BY participation_date, row_id")
      .bind(t.tenant.id)
      .all<Record<string, string | number>>();
    // an explicit width cuts the header too
    expect(cells[0]).toEqual(["user", "stacki", "value", "has_won", "participation_date"]);
    expect(cells.slice(1)).toEqual(
      results.map((x) => [[...String(x.user_id)].slice(0, 12).join(""), String(x.stackid).slice(0, 6).trimEnd(), String(x.value), String(x.has_won), x.participation_date]),
    );
  });
});
