import { SELF, env } from "cloudflare:test";
import { expect } from "vitest";
import type { Env } from "../../src/env";
import { slug } from "../../src/segments/traits";
import { BASE, call, setupTenant, waitFor } from "../helpers";

export const e = env as unknown as Env;

export const PERMS = ["automated-exports-view", "exports-manage", "ingest", "segments-manage"];

/** mulberry32: a seeded PRNG, so the synthetic players are the same on every run. */
export function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One trait of each of the reference's twelve categories: the traits the synthetic survey asks about. */
export const ASKED: [string, string][] = [
  ["agreeableness", "Altruism"],
  ["communication", "Feeler"],
  ["competitiveness", "Avoidant"],
  ["conscientiousness", "Achievement striving"],
  ["coreMotivations", "Autonomy"],
  ["culture", "Individualism"],
  ["extraversion", "Activity"],
  ["motivations", "Compensatory effort"],
  ["neuroticism", "Anxiety"],
  ["openness", "Actions"],
  ["personality", "Agreeableness"],
  ["wellBeing", "Bounded reciprocity"],
];

/**
 * Three well-separated profiles over the asked traits: H(igh), L(ow), M(iddle). Sizes differ so
 * that persona numbers (by size) are known: A is persona 1, B 2, C 3.
 */
export const PROFILES = {
  A: { size: 150, levels: "HHHHLLLLMMMM" },
  B: { size: 100, levels: "LLLLMMMMHHHH" },
  C: { size: 60, levels: "MMMMHHHHLLLL" },
} as const;
export type Profile = keyof typeof PROFILES;

export const COUNTRIES = ["DE", "FR", "US"] as const;

export interface Player {
  id: string;
  profile: Profile;
  country: (typeof COUNTRIES)[number];
  /** question id -> Likert answer 1-5 */
  answers: Map<string, number>;
  /** "category/trait" -> score the default key gives (0-100) */
  scores: Map<string, number>;
}

const score = (a: number, direction: 1 | -1) => ((direction === 1 ? a - 1 : 5 - a) / 4) * 100;

/** The synthetic players: answers to the default key's two questions per asked trait. */
export function players(seed = 13): Player[] {
  const rnd = prng(seed);
  const profiles: Profile[] = [];
  for (const [p, { size }] of Object.entries(PROFILES)) for (let i = 0; i < size; i++) profiles.push(p as Profile);
  // Shuffle, so that no run of user ids (nor a chunk) lines up with a profile.
  for (let i = profiles.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [profiles[i], profiles[j]] = [profiles[j] as Profile, profiles[i] as Profile];
  }
  return profiles.map((profile, i) => {
    const answers = new Map<string, number>();
    const scores = new Map<string, number>();
    ASKED.forEach(([category, trait], t) => {
      const level = PROFILES[profile].levels[t];
      const pick = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
      const [a1, a2] = level === "H" ? [pick(4, 5), pick(1, 2)] : level === "L" ? [pick(1, 2), pick(4, 5)] : [3, 3];
      const base = `${category}.${slug(trait)}`;
      answers.set(`${base}.1`, a1);
      answers.set(`${base}.2`, a2);
      const s = (score(a1, 1) + score(a2, -1)) / 2;
      scores.set(`${category}/${trait}`, s);
      // The default key scores wellBeing's Autonomy from coreMotivations' questions.
      if (category === "coreMotivations" && trait === "Autonomy") scores.set("wellBeing/Autonomy", s);
    });
    return { id: `p${String(i).padStart(4, "0")}`, profile, country: COUNTRIES[i % 3] as Player["country"], answers, scores };
  });
}

/** Mean score per "category/trait" over some players. */
export function means(ps: readonly Player[]): Map<string, number> {
  const sums = new Map<string, number>();
  for (const p of ps) for (const [k, v] of p.scores) sums.set(k, (sums.get(k) ?? 0) + v);
  return new Map([...sums].map(([k, v]) => [k, v / ps.length]));
}

export function surveyCsv(ps: readonly Player[]): string {
  const lines = ["timestamp,user_id,survey_id,question_id,answer,completed"];
  for (const p of ps) for (const [q, a] of p.answers) lines.push(`2026-11-20 10:00:00,${p.id},s1,${q},${a},1`);
  return `${lines.join("\n")}\n`;
}

/** Uploads survey answers as CSV through POST /v1/survey-data/csv and waits for the ingestion. */
export async function uploadSurvey(apiKey: string, csv: string): Promise<void> {
  const fd = new FormData();
  fd.append("file", new File([csv], "survey.csv", { type: "text/csv" }));
  const res = await SELF.fetch(`${BASE}/v1/survey-data/csv`, { method: "POST", headers: { Authorization: `Bearer ${apiKey}` }, body: fd });
  const body = (await res.json()) as { data: { ingestion_id: string } };
  expect(res.status, JSON.stringify(body)).toBe(201);
  const done = await waitFor(async () => {
    const r = await call("GET", `/v1/ingestions/${body.data.ingestion_id}`, { token: apiKey });
    return ["completed", "failed"].includes(r.json?.data?.status) ? r.json.data : undefined;
  }, "the survey CSV ingestion");
  expect(done.status, JSON.stringify(done)).toBe("completed");
  expect(done.rows_rejected).toBe(0);
}

/** Logins naming each player's country, through POST /v1/logins. */
export async function pushLogins(apiKey: string, ps: readonly Player[]): Promise<void> {
  const users = ps.map((p) => ({ user_id: p.id, country: p.country, timestamp: "2026-11-21 09:00:00", platform: "Steam" }));
  for (let i = 0; i < users.length; i += 1000) {
    const r = await call("POST", "/v1/logins", { token: apiKey, body: { users: users.slice(i, i + 1000) } });
    expect(r.status, r.text).toBe(201);
  }
}

/** Waits until the segment's result is published (computed_at past `after`) and its recompute is over. */
export async function waitReady(token: string, id: string, after: number | null = null) {
  return waitFor(async () => {
    const r = await call("GET", `/api/1/segments/${id}`, { token });
    if (r.json?.status === "failed") throw new Error(`recompute failed: ${r.json.error}`);
    return r.json?.status === "ready" && r.json.computed_at !== after ? r.json : undefined;
  }, `segment ${id} to be recomputed`);
}

export async function ids(apiKey: string, segment: string, persona: string | number, query = ""): Promise<string[]> {
  const r = await call("POST", `/v1/segments/${segment}/personas/${persona}/users${query}`, { token: apiKey });
  expect(r.status, r.text).toBe(200);
  expect(r.json.data.cursor, "one page holds them all").toBeUndefined();
  return r.json.data.ids;
}

export async function personaTenant(name: string) {
  return setupTenant(name, PERMS);
}
