import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { BASE, call } from "../helpers";
import { personaTenant, waitReady } from "./helpers";
import { waitIdle } from "./rows";

/** Trait scores pushed through user_traits (JSON records and CSV), and the scoring key API. */
describe("user_traits and the scoring key", () => {
  it("pushed scores override survey scores, count in the personas, and are refused out of 0-100", async () => {
    const t = await personaTenant("traits");
    const bad = await call("POST", "/v1/records/user_traits", {
      token: t.apiKey,
      body: { user_traits: [{ user_id: "a", category: "openness", trait: "Fantasy", score: 101 }] },
    });
    expect(bad.status).toBe(400);
    expect(bad.json.data.errors).toEqual([{ index: 0, field: "score", reason: "must be between 0 and 100, got 101" }]);

    // a: survey answers only (Fantasy 100, Actions 0); b: the same answers, but a pushed Fantasy score (older, then newer) wins.
    const csv = ["timestamp,user_id,survey_id,question_id,answer,completed"];
    for (const u of ["a", "b"]) {
      csv.push(`2026-11-20 10:00:00,${u},s,openness.fantasy.1,5,1`, `2026-11-20 10:00:00,${u},s,openness.fantasy.2,1,1`);
      csv.push(`2026-11-20 10:00:00,${u},s,openness.actions.1,1,1`, `2026-11-20 10:00:00,${u},s,openness.actions.2,5,1`);
    }
    const fd = new FormData();
    fd.append("file", new File([`${csv.join("\n")}\n`], "s.csv"));
    const survey = await SELF.fetch(`${BASE}/v1/survey-data/csv`, { method: "POST", headers: { Authorization: `Bearer ${t.apiKey}` }, body: fd });
    expect(survey.status).toBe(201);
    const surveyIngestion = ((await survey.json()) as { data: { ingestion_id: string } }).data.ingestion_id;
    const pushed = await call("POST", "/v1/records/user_traits", {
      token: t.apiKey,
      body: {
        user_traits: [
          { user_id: "b", category: "openness", trait: "Fantasy", score: 10, timestamp: "2026-11-21 00:00:00" },
          { user_id: "b", category: "openness", trait: "Fantasy", score: 20, timestamp: "2026-11-22 00:00:00" },
          // Not a trait of the key: stored (exportable), not used for personas.
          { user_id: "b", category: "custom", trait: "Luck", score: 99 },
        ],
      },
    });
    expect(pushed.status, pushed.text).toBe(201);
    expect(pushed.json.message).toBe("3 user traits have been successfully ingested");
    // c: only pushed scores, uploaded as CSV.
    const traitsCsv = new FormData();
    traitsCsv.append("file", new File(["user_id,category,trait,score\nc,openness,Fantasy,40\nc,openness,Empathy,70\n"], "t.csv"));
    const up = await SELF.fetch(`${BASE}/v1/user-traits/csv`, { method: "POST", headers: { Authorization: `Bearer ${t.apiKey}` }, body: traitsCsv });
    expect(up.status).toBe(201);
    const ingestion = ((await up.json()) as { data: { ingestion_id: string } }).data.ingestion_id;
    const { waitFor } = await import("../helpers");
    for (const id of [surveyIngestion, ingestion]) {
      await waitFor(async () => {
        const r = await call("GET", `/v1/ingestions/${id}`, { token: t.apiKey });
        return r.json.data.status === "completed" ? true : undefined;
      }, "the CSV ingestions");
    }

    // The assessment status answers from the same survey data: a and b completed it, c only has pushed scores.
    for (const [u, completed] of [["a", true], ["b", true], ["c", false]] as const) {
      const st = await call("GET", `/v1/assessment/user/status?id=${u}`, { token: t.apiKey });
      expect(st.json.data, u).toEqual({ completed, completed_at: completed ? Date.UTC(2026, 10, 20, 10) / 1000 : null });
    }

    expect((await call("PATCH", "/api/1/segments/default", { token: t.token, body: { personas: 1 } })).status).toBe(200);
    const seg = await waitReady(t.token, "default");
    expect(seg.users).toBe(3);
    const surveyed = await call("POST", "/api/1/segments", { token: t.token, body: { name: "surveyed", personas: 1, filters: [[{ field: "survey_completed", op: "eq", value: true }]] } });
    await waitReady(t.token, surveyed.json.id);
    const surveyedIds = await call("POST", `/v1/segments/${surveyed.json.id}/personas/all/users`, { token: t.apiKey });
    expect(surveyedIds.json.data.ids).toEqual(["a", "b"]);
    const traits = await call("POST", "/v1/segments/default/personas/1/traits", { token: t.apiKey });
    // Fantasy: a 100 (survey), b 20 (latest push), c 40 (push); Actions: a 0, b 0; Empathy: c 70.
    expect(traits.json).toEqual({
      code: 200,
      message: "",
      data: { openness: { Fantasy: 53.3333, Actions: 0, Empathy: 70 } },
    });
  });

  it("GET, PUT and DELETE /api/1/segments/scoring-key; a replaced key scores the next recompute", async () => {
    const t = await personaTenant("scoring-key");
    const dflt = await call("GET", "/api/1/segments/scoring-key", { token: t.token });
    expect(dflt.status).toBe(200);
    expect(dflt.json.default).toBe(true);
    expect(dflt.json.key.scale).toEqual({ min: 1, max: 5 });
    // The default key covers every category and trait of the reference.
    const traits = new Set(dflt.json.key.questions.map((q: { category: string; trait: string }) => `${q.category}/${q.trait}`));
    expect(traits.size).toBe(69);
    for (const c of ["agreeableness", "communication", "competitiveness", "conscientiousness", "coreMotivations", "culture", "extraversion", "motivations", "neuroticism", "openness", "personality", "wellBeing"]) {
      expect([...traits].some((x) => (x as string).startsWith(`${c}/`)), c).toBe(true);
    }

    const key = {
      scale: { min: 0, max: 10 },
      questions: [
        { question_id: "fun", category: "play", trait: "Joy", direction: 1 },
        { question_id: "boring", category: "play", trait: "Joy", direction: -1 },
      ],
    };
    const put = await call("PUT", "/api/1/segments/scoring-key", { token: t.token, body: key });
    expect(put.status, put.text).toBe(200);
    expect(put.json).toMatchObject({ default: false, key: { ...key, traits: [] } });
    expect((await call("GET", "/api/1/segments/scoring-key", { token: t.token })).json.default).toBe(false);

    const fd = new FormData();
    fd.append("file", new File(["user_id,question_id,answer\nu1,fun,10\nu1,boring,2\nu2,fun,3\nu2,boring,not a number\n"], "s.csv"));
    expect((await SELF.fetch(`${BASE}/v1/survey-data/csv`, { method: "POST", headers: { Authorization: `Bearer ${t.apiKey}` }, body: fd })).status).toBe(201);
    const { waitFor } = await import("../helpers");
    await waitFor(async () => {
      const { countRows } = await import("../ingest/util");
      return (await countRows(t.tenant.id, "survey_responses")) === 4 ? true : undefined;
    }, "the answers");
    await waitIdle(t.tenant.id);
    const r = await call("POST", "/api/1/segments/default/recompute", { token: t.token });
    expect(r.status).toBe(202);
    await waitReady(t.token, "default");
    // u1: (100 + 80) / 2 = 90; u2: 30 (the unreadable answer is not scored).
    const all = await call("POST", "/v1/segments/default/personas/all/traits", { token: t.apiKey });
    expect(all.json.data).toEqual({ play: { Joy: 60 } });

    expect((await call("DELETE", "/api/1/segments/scoring-key", { token: t.token })).status).toBe(204);
    expect((await call("GET", "/api/1/segments/scoring-key", { token: t.token })).json.default).toBe(true);
    const empty = await call("PUT", "/api/1/segments/scoring-key", { token: t.token, body: { questions: [] } });
    expect(empty.status).toBe(400);
    expect(empty.json.error.message).toMatch(/scores no trait/);
  });

  it("documents the segment routes in /openapi.json", async () => {
    const r = await call("GET", "/openapi.json");
    for (const p of ["/api/1/segments", "/api/1/segments/{id}", "/api/1/segments/{id}/recompute", "/api/1/segments/scoring-key", "/v1/records/user_traits", "/v1/user-traits/csv"]) {
      expect(Object.keys(r.json.paths), p).toContain(p);
    }
    const users = r.json.paths["/v1/segments/{segment_id}/personas/{persona}/users"].post;
    expect(users.parameters.filter((x: { in: string }) => x.in === "path").map((x: { name: string }) => x.name)).toEqual(["segment_id", "persona"]);
    expect(r.json.paths["/v1/segments/{segment_id}/personas/{persona}/traits"].post.responses["404"]).toBeDefined();
  });
});
