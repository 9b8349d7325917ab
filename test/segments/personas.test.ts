import { beforeAll, describe, expect, it } from "vitest";
import { call, waitFor } from "../helpers";
import { type Player, type Profile, ids, means, personaTenant, players, pushLogins, surveyCsv, uploadSurvey, waitReady } from "./helpers";

/**
 * Issue 13, end to end through the worker: survey answers of 310 synthetic players drawn from
 * three well-separated trait profiles come in through POST /v1/survey-data/csv, the default
 * segment is recomputed with k = 3 on the real queue chain, and the reference endpoints answer.
 */

let t: Awaited<ReturnType<typeof personaTenant>>;
let ps: Player[];
let first: { computed_at: number };

const byProfile = (p: Profile) => ps.filter((x) => x.profile === p);
const sorted = (xs: string[]) => [...xs].sort();

beforeAll(async () => {
  t = await personaTenant("personas");
  ps = players();
  await uploadSurvey(t.apiKey, surveyCsv(ps));
  await pushLogins(t.apiKey, ps);
  // The default segment exists without being created; three personas instead of four.
  const r = await call("PATCH", "/api/1/segments/default", { token: t.token, body: { personas: 3 } });
  expect(r.status, r.text).toBe(200);
  expect(r.json.status).toBe("computing");
  first = await waitReady(t.token, "default");
}, 60_000);

describe("personas of the default segment (k = 3)", () => {
  it("GET /api/1/segments/:id has the contract's fields", async () => {
    const r = await call("GET", "/api/1/segments/default", { token: t.token });
    expect(r.json).toMatchObject({ id: "default", name: "Default", personas: 3, status: "ready", progress: 1, users: 310 });
    expect(r.json.computed_at).toEqual(expect.any(Number));
    expect(r.json.persona_sizes).toEqual([150, 100, 60]);
  });

  it("`all` returns every user", async () => {
    expect(sorted(await ids(t.apiKey, "default", "all"))).toEqual(sorted(ps.map((p) => p.id)));
  });

  it("persona ids partition the segment: no user twice, none left out", async () => {
    const lists = [await ids(t.apiKey, "default", 1), await ids(t.apiKey, "default", 2), await ids(t.apiKey, "default", 3)];
    const flat = lists.flat();
    expect(new Set(flat).size).toBe(flat.length);
    expect(sorted(flat)).toEqual(sorted(ps.map((p) => p.id)));
  });

  it("the three profiles come back as the three personas, numbered by size", async () => {
    for (const [persona, profile] of [
      [1, "A"],
      [2, "B"],
      [3, "C"],
    ] as const) {
      expect(sorted(await ids(t.apiKey, "default", persona)), `persona ${persona}`).toEqual(sorted(byProfile(profile).map((p) => p.id)));
    }
  });

  it("the traits endpoint returns each profile's means (and the whole segment's for `all`)", async () => {
    for (const [persona, who] of [
      ["1", byProfile("A")],
      ["2", byProfile("B")],
      ["3", byProfile("C")],
      ["all", ps],
    ] as const) {
      const r = await call("POST", `/v1/segments/default/personas/${persona}/traits`, { token: t.apiKey });
      expect(r.status, r.text).toBe(200);
      expect(r.json.code).toBe(200);
      expect(r.json.message).toBe("");
      const expected = means(who);
      const got = Object.entries(r.json.data as Record<string, Record<string, number>>).flatMap(([c, traits]) => Object.entries(traits).map(([tr, v]) => [`${c}/${tr}`, v] as const));
      // Only the traits somebody has a score for: the 12 asked, plus wellBeing/Autonomy (shares coreMotivations' questions).
      expect(got.map(([k]) => k).sort(), `persona ${persona}`).toEqual([...expected.keys()].sort());
      for (const [k, v] of got) expect(v, `${persona} ${k}`).toBeCloseTo(expected.get(k) as number, 2);
    }
  });

  it("a persona past the last one, an unknown segment and another tenant's segment are 404s in the envelope", async () => {
    const past = await call("POST", "/v1/segments/default/personas/4/users", { token: t.apiKey });
    expect(past.status).toBe(404);
    expect(past.json).toEqual({ code: 404, message: "persona 4 not found: segment 'default' has 3 personas (1 to 3)", data: null });
    const unknown = await call("POST", "/v1/segments/seg_nope/personas/all/traits", { token: t.apiKey });
    expect(unknown.status).toBe(404);
    expect(unknown.json.code).toBe(404);
    expect(unknown.json.message).toMatch(/segment 'seg_nope' not found/);

    const other = await personaTenant("other");
    const mine = await call("POST", "/api/1/segments", { token: t.token, body: { name: "mine", personas: 2 } });
    expect(mine.status, mine.text).toBe(201);
    for (const path of [`/v1/segments/${mine.json.id}/personas/all/users`, `/v1/segments/${mine.json.id}/personas/1/traits`]) {
      const r = await call("POST", path, { token: other.apiKey });
      expect(r.status, path).toBe(404);
      expect(r.json.message).toMatch(/not found/);
    }
    expect((await call("GET", `/api/1/segments/${mine.json.id}`, { token: other.token })).status).toBe(404);
    expect((await call("PATCH", `/api/1/segments/${mine.json.id}`, { token: other.token, body: { name: "x" } })).status).toBe(404);
    expect((await call("DELETE", `/api/1/segments/${mine.json.id}`, { token: other.token })).status).toBe(404);
    // The other tenant's own default has no data and was never computed: a clear 409, not an empty list.
    const never = await call("POST", "/v1/segments/default/personas/all/users", { token: other.apiKey });
    expect(never.status).toBe(409);
    expect(never.json.message).toMatch(/has not been computed/);
    await waitReady(t.token, mine.json.id);
  });

  it("pages big personas with a cursor beside ids, and refuses a cursor of an older result", async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const r = await call("POST", "/v1/segments/default/personas/all/users", { token: t.apiKey, body: { limit: 100, ...(cursor ? { cursor } : {}) } });
      expect(r.status, r.text).toBe(200);
      seen.push(...r.json.data.ids);
      cursor = r.json.data.cursor;
      pages++;
      if (cursor) expect(r.json.data.ids).toHaveLength(100);
    } while (cursor);
    expect(pages).toBe(4);
    expect(sorted(seen)).toEqual(sorted(ps.map((p) => p.id)));
    // The query string works too (the reference sends no body).
    const q = await call("POST", "/v1/segments/default/personas/2/users?limit=10", { token: t.apiKey });
    expect(q.json.data.ids).toHaveLength(10);
    expect(q.json.data.cursor).toEqual(expect.any(String));
    const next = await call("POST", "/v1/segments/default/personas/2/users", { token: t.apiKey, body: { cursor: q.json.data.cursor, limit: 10 } });
    expect(next.json.data.ids[0] > q.json.data.ids[9]).toBe(true);
    const bad = await call("POST", "/v1/segments/default/personas/2/users", { token: t.apiKey, body: { cursor: "garbage" } });
    expect(bad.status).toBe(400);
    expect(bad.json.message).toMatch(/cursor/);
  });

  it("a recompute of the same data gives the same personas, replaces the rows, and outdates old cursors", async () => {
    const before = await Promise.all([1, 2, 3].map((p) => ids(t.apiKey, "default", p)));
    const traitsBefore = (await call("POST", "/v1/segments/default/personas/all/traits", { token: t.apiKey })).json.data;
    const page = await call("POST", "/v1/segments/default/personas/all/users", { token: t.apiKey, body: { limit: 5 } });
    const r = await call("POST", "/api/1/segments/default/recompute", { token: t.token });
    expect(r.status).toBe(202);
    expect(r.json).toMatchObject({ id: "default", status: "computing" });
    // Asking again while it runs answers the same recompute.
    expect((await call("POST", "/api/1/segments/default/recompute", { token: t.token })).status).toBe(202);
    const again = await waitReady(t.token, "default", first.computed_at);
    expect(again.computed_at).toBeGreaterThan(first.computed_at);
    expect(await Promise.all([1, 2, 3].map((p) => ids(t.apiKey, "default", p)))).toEqual(before);
    expect((await call("POST", "/v1/segments/default/personas/all/traits", { token: t.apiKey })).json.data).toEqual(traitsBefore);
    const stale = await call("POST", "/v1/segments/default/personas/all/users", { token: t.apiKey, body: { cursor: page.json.data.cursor } });
    expect(stale.status).toBe(409);
    expect(stale.json.message).toMatch(/recomputed/);
    // The previous result's membership rows and the working vectors are deleted once the new one is served.
    const { countMembers, countVectors } = await import("./rows");
    await waitFor(async () => ((await countMembers(t.tenant.id, "default")) === ps.length ? true : undefined), "the previous result's rows to go");
    await waitFor(async () => ((await countVectors(t.tenant.id, "default")) === 0 ? true : undefined), "the working vectors to go");
  });
});

describe("segments with filters", () => {
  it("a segment filtered on country holds only that country's users", async () => {
    const r = await call("POST", "/api/1/segments", {
      token: t.token,
      body: { name: "germany", filters: [[{ field: "country", op: "eq", value: "DE" }]], personas: 3 },
    });
    expect(r.status, r.text).toBe(201);
    expect(r.json).toMatchObject({ name: "germany", personas: 3, status: "computing" });
    const ready = await waitReady(t.token, r.json.id);
    const de = ps.filter((p) => p.country === "DE").map((p) => p.id);
    expect(ready.users).toBe(de.length);
    expect(sorted(await ids(t.apiKey, r.json.id, "all"))).toEqual(sorted(de));
    // Still the three profiles, within Germany.
    const sizes = ready.persona_sizes as number[];
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(de.length);
    expect(sizes).toHaveLength(3);
  });

  it("filters combine aggregates: OR between sets, AND inside a set", async () => {
    const r = await call("POST", "/api/1/segments", {
      token: t.token,
      body: {
        name: "fr-or-us-steam",
        personas: 2,
        filters: [
          [{ field: "country", op: "eq", value: "FR" }],
          [
            { field: "country", op: "eq", value: "US" },
            { field: "last_login", op: "gte", value: "2026-11-21 00:00:00" },
            { field: "purchases", op: "eq", value: 0 },
            { field: "platform", op: "eq", value: "Steam" },
          ],
        ],
      },
    });
    expect(r.status, r.text).toBe(201);
    await waitReady(t.token, r.json.id);
    const want = ps.filter((p) => p.country !== "DE").map((p) => p.id);
    expect(sorted(await ids(t.apiKey, r.json.id, "all"))).toEqual(sorted(want));
  });

  it("refuses bad input with a clear 400", async () => {
    const cases: [unknown, RegExp][] = [
      [{ name: "x", filters: [[{ field: "shoe_size", op: "eq", value: 1 }]] }, /filters\.0\.0\.field: unknown field 'shoe_size'/],
      [{ name: "x", filters: [[{ field: "purchases", op: "contains", value: "a" }]] }, /operator 'contains' is not valid/],
      [{ name: "x", personas: 0 }, /personas must be at least 1/],
      [{ name: "x", personas: 21 }, /personas must be at most 20/],
      [{ name: "" }, /name must not be empty/],
      [{ name: "x", colour: "red" }, /colour/],
    ];
    for (const [body, message] of cases) {
      const r = await call("POST", "/api/1/segments", { token: t.token, body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error.message, JSON.stringify(body)).toMatch(message);
    }
    const dflt = await call("PATCH", "/api/1/segments/default", { token: t.token, body: { filters: [[{ field: "country", op: "eq", value: "DE" }]] } });
    expect(dflt.status).toBe(400);
    expect(dflt.json.error.message).toMatch(/default segment/);
    expect((await call("DELETE", "/api/1/segments/default", { token: t.token })).status).toBe(409);
    const dup = await call("POST", "/api/1/segments", { token: t.token, body: { name: "germany" } });
    expect(dup.status).toBe(409);
    const persona = await call("POST", "/v1/segments/default/personas/first/users", { token: t.apiKey });
    expect(persona.status).toBe(400);
    expect(persona.json.message).toMatch(/persona must be a persona number/);
    const limit = await call("POST", "/v1/segments/default/personas/all/users", { token: t.apiKey, body: { limit: 0 } });
    expect(limit.status).toBe(400);
    expect(limit.json).toMatchObject({ code: 400, message: "limit must be at least 1" });
    const key = await call("PUT", "/api/1/segments/scoring-key", { token: t.token, body: { questions: [{ question_id: "q1", category: "openness", trait: "Fantasy", direction: 2 }] } });
    expect(key.status).toBe(400);
    expect(key.json.error.message).toMatch(/direction must be 1 or -1/);
    expect((await call("POST", "/v1/segments/default/personas/all/users")).status).toBe(401);
  });

  it("needs the segments-manage permission", async () => {
    const { createClient, getToken } = await import("../helpers");
    const c = await createClient(t.tenant.id, ["exports-manage"]);
    const token = await getToken(c);
    const r = await call("GET", "/api/1/segments", { token });
    expect(r.status).toBe(403);
    expect(r.json.error.message).toMatch(/segments-manage/);
  });

  it("lists segments (default first) and deletes one with its membership rows", async () => {
    const made = await call("POST", "/api/1/segments", { token: t.token, body: { name: "to-delete", personas: 1 } });
    await waitReady(t.token, made.json.id);
    const list = await call("GET", "/api/1/segments", { token: t.token });
    expect(list.json.segments[0].id).toBe("default");
    expect(list.json.segments.map((s: { name: string }) => s.name)).toContain("to-delete");
    expect((await call("DELETE", `/api/1/segments/${made.json.id}`, { token: t.token })).status).toBe(204);
    expect((await call("GET", `/api/1/segments/${made.json.id}`, { token: t.token })).status).toBe(404);
    expect((await call("POST", `/v1/segments/${made.json.id}/personas/all/users`, { token: t.apiKey })).status).toBe(404);
    const { countMembers } = await import("./rows");
    await waitFor(async () => ((await countMembers(t.tenant.id, made.json.id)) === 0 ? true : undefined), "the deleted segment's rows to be purged");
  });
});
