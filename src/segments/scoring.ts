import * as z from "zod";
import { REFERENCE_TRAITS, SHARED_TRAITS, slug } from "./traits";

/**
 * Scoring survey answers into trait scores (docs/segments.md, "Scoring").
 *
 * A scoring key maps question ids to a (category, trait) and a direction on a Likert scale
 * (`scale.min` to `scale.max`, 1-5 by default). An answer `a` to a question scores
 * `(a - min) / (max - min) * 100` when the direction is 1 and `(max - a) / (max - min) * 100`
 * when it is -1 (a reverse-keyed item); a trait's score is the mean over its answered
 * questions, so 0-100. A question may feed several traits (listed once per trait).
 *
 * The key's traits are the dimensions personas are clustered on. Scores pushed through the
 * `user_traits` model override the survey's: for each (user, category, trait), the latest
 * pushed score wins, and the survey answers score only the traits with no pushed score.
 */

/** Most traits in a key: the clustering state (centres and sums, k x traits) stays small. */
export const MAX_TRAITS = 100;
export const MAX_QUESTIONS = 2000;

const Name = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .trim()
    .min(1, `${what} must not be empty`)
    .max(100, `${what}: at most 100 characters`);

export const ScoringKey = z
  .object({
    scale: z
      .object({ min: z.number().int(), max: z.number().int() })
      .strict()
      .refine((s) => s.max > s.min, { message: "scale.max must be greater than scale.min", path: ["max"] })
      .default({ min: 1, max: 5 }),
    questions: z
      .array(
        z
          .object({
            question_id: z.string().trim().min(1, "question_id must not be empty").max(200),
            category: Name("category"),
            trait: Name("trait"),
            direction: z.union([z.literal(1), z.literal(-1)], { error: "direction must be 1 or -1 (reverse-keyed)" }),
          })
          .strict(),
      )
      .max(MAX_QUESTIONS, `at most ${MAX_QUESTIONS} questions`),
    /** traits scored only by pushed `user_traits`, besides those the questions score */
    traits: z
      .array(z.object({ category: Name("category"), trait: Name("trait") }).strict())
      .max(MAX_TRAITS)
      .default([]),
  })
  .strict()
  .superRefine((k, ctx) => {
    const seen = new Set<string>();
    k.questions.forEach((q, i) => {
      const id = `${q.question_id}\u0000${q.category}\u0000${q.trait}`;
      if (seen.has(id)) ctx.addIssue({ code: "custom", path: ["questions", i], message: `question '${q.question_id}' is listed twice for ${q.category}/${q.trait}` });
      seen.add(id);
    });
    const n = traitList(k).length;
    if (n === 0) ctx.addIssue({ code: "custom", path: ["questions"], message: "the key scores no trait: list questions (or traits scored by pushes)" });
    if (n > MAX_TRAITS) ctx.addIssue({ code: "custom", path: ["questions"], message: `the key has ${n} traits; at most ${MAX_TRAITS}` });
  });
export type ScoringKey = z.infer<typeof ScoringKey>;

export interface TraitRef {
  category: string;
  trait: string;
}

/** The key's traits in a fixed order: as the questions first name them, then the extra traits. */
export function traitList(k: Pick<ScoringKey, "questions" | "traits">): TraitRef[] {
  const out: TraitRef[] = [];
  const seen = new Set<string>();
  for (const t of [...k.questions, ...k.traits]) {
    const id = traitId(t.category, t.trait);
    if (!seen.has(id)) {
      seen.add(id);
      out.push({ category: t.category, trait: t.trait });
    }
  }
  return out;
}

export const traitId = (category: string, trait: string) => `${category}\u0000${trait}`;

/**
 * The default key: two questions per trait of the reference's list, `<category>.<trait>.1`
 * (agreeing scores high) and `<category>.<trait>.2` (reverse-keyed), on a 1-5 scale; e.g.
 * `openness.fantasy.1`. wellBeing's Autonomy, Mastery and Purpose share coreMotivations'
 * questions (SHARED_TRAITS).
 */
export function defaultScoringKey(): ScoringKey {
  const questions: ScoringKey["questions"] = [];
  for (const [category, traits] of Object.entries(REFERENCE_TRAITS)) {
    for (const trait of traits) {
      const shared = SHARED_TRAITS[`${category}/${trait}`];
      const [qc, qt] = shared ? (shared.split("/") as [string, string]) : [category, trait];
      const base = `${qc}.${slug(qt)}`;
      questions.push({ question_id: `${base}.1`, category, trait, direction: 1 });
      questions.push({ question_id: `${base}.2`, category, trait, direction: -1 });
    }
  }
  return { scale: { min: 1, max: 5 }, questions, traits: [] };
}

/** A key ready to score: question -> traits, and the index of each trait in the vector. */
export interface CompiledKey {
  traits: TraitRef[];
  index: Map<string, number>;
  questions: Map<string, { trait: number; direction: 1 | -1 }[]>;
  min: number;
  max: number;
}

export function compileKey(k: ScoringKey): CompiledKey {
  const traits = traitList(k);
  const index = new Map(traits.map((t, i) => [traitId(t.category, t.trait), i]));
  const questions = new Map<string, { trait: number; direction: 1 | -1 }[]>();
  for (const q of k.questions) {
    const list = questions.get(q.question_id) ?? [];
    list.push({ trait: index.get(traitId(q.category, q.trait)) as number, direction: q.direction });
    questions.set(q.question_id, list);
  }
  return { traits, index, questions, min: k.scale.min, max: k.scale.max };
}

/** An answer on the key's scale, or null (not a number, or outside the scale: not scored). */
export function likert(answer: string | null | undefined, key: Pick<CompiledKey, "min" | "max">): number | null {
  if (answer === null || answer === undefined) return null;
  const s = answer.trim();
  if (!/^[-+]?\d+(\.\d+)?$/.test(s)) return null;
  const a = Number(s);
  return a >= key.min && a <= key.max ? a : null;
}

/** Scores are kept to 0.01: plenty on a 0-100 scale, and a vector of 69 traits stays ~400 bytes. */
const round2 = (n: number) => Math.round(n * 100) / 100;

/**
 * One user's vector: `answers` are the user's latest answer per question, `pushed` the latest
 * pushed score per trait index. Null where the user has no score for a trait; null overall
 * when the user has no score at all.
 */
export function scoreUser(key: CompiledKey, answers: ReadonlyMap<string, string | null>, pushed: ReadonlyMap<number, number>): (number | null)[] | null {
  const n = key.traits.length;
  const sums = new Array<number>(n).fill(0);
  const counts = new Array<number>(n).fill(0);
  for (const [question, answer] of answers) {
    const targets = key.questions.get(question);
    const a = targets ? likert(answer, key) : null;
    if (a === null || !targets) continue;
    for (const t of targets) {
      const score = ((t.direction === 1 ? a - key.min : key.max - a) / (key.max - key.min)) * 100;
      sums[t.trait] = (sums[t.trait] as number) + score;
      counts[t.trait] = (counts[t.trait] as number) + 1;
    }
  }
  let any = false;
  const out = sums.map((s, i) => {
    const p = pushed.get(i);
    if (p !== undefined) {
      any = true;
      return round2(p);
    }
    if ((counts[i] as number) === 0) return null;
    any = true;
    return round2(s / (counts[i] as number));
  });
  return any ? out : null;
}
