import type { ChainJob, StepContext, StepOutcome } from "../chain";
import { checkpointSegmentRun, failSegmentRun, getSegmentAnyState, getSegmentRun, publishSegmentResult, type RunCheckpoint } from "../db/segments";
import {
  type TenantData,
  deleteMembers,
  deleteVectors,
  filterUsers,
  pushedScores,
  readVectors,
  surveyAnswers,
  usersWithScores,
  writeMembers,
  writeVectors,
  shardForTenant,
} from "../db/shards";
import type { SegmentRunRow } from "../db/schema";
import type { Services } from "../services";
import { type CompiledSegmentFilter, compileSegmentFilter } from "./filters";
import {
  type FirstPass,
  type KMeansConfig,
  type KMeansState,
  type RawVector,
  type TraitMeans,
  addToMeans,
  assignFinal,
  endFirstPass,
  endPass,
  firstPassChunk,
  passChunk,
  personaNumbers,
  startFirstPass,
  startMeans,
} from "./kmeans";
import { type CompiledKey, compileKey, scoreUser, traitId } from "./scoring";
import { type RunDefinition, type RunOptions, type SegmentResult, startRecompute } from "./service";

/**
 * The recompute of a segment as a resumable chain (src/chain/, kind `segment`). Each link runs
 * up to `chunks_per_link` chunks of the current pass, then records its checkpoint on the run row
 * (compare-and-set on `link`, the chain position it ran for) and hands over. Passes:
 *
 * 1. `build`: the users with scores, in id order and in chunks: filter (segment filters), score
 *    (scoring key + pushed scores), write their vectors to the shard (`segment_vectors`), and run
 *    the first k-means pass over them (trait means, first centre).
 * 2. `seed` (k - 1 passes) and `iterate` (until converged): read the vectors back in chunks.
 * 3. `write`: assign each user to the final centres, write `persona_members` and sum the trait
 *    means; at its end the result is published on the segment in the same batch as the checkpoint.
 * 4. `cleanup`: delete the working vectors and the previous result's membership rows, in chunks.
 *
 * A deleted segment turns its recompute (or a run started for it) into `purge`: delete its
 * vectors and membership rows, in chunks. Every shard write is idempotent (INSERT OR REPLACE /
 * OR IGNORE on keys, deletes), so a link that runs twice leaves the same rows.
 *
 * Memory: one chunk of vectors plus the k-means state (k x traits numbers), whatever the size of
 * the segment.
 */

type Phase = "build" | "seed" | "iterate" | "write" | "cleanup" | "purge";

/** The checkpoint state between links (run row `state`, or R2 when too big for a row). */
interface JobState {
  first?: FirstPass;
  km?: KMeansState;
  /** users in the segment (known after the first pass) */
  total?: number;
  /** users read so far in the pass in progress */
  seen?: number;
  /** write pass: persona number per cluster, trait means, the result's time */
  numbers?: number[];
  means?: TraitMeans;
  computed_at?: number;
  generation?: string;
}

/** The checkpoint stays in D1 below this; a bigger one (many personas x traits) goes to R2. */
const MAX_STATE_BYTES = 90_000;
/** Rows deleted per statement by cleanup and purge. */
const DELETE_BATCH = 5000;

const stateKey = (run: SegmentRunRow, link: number) => `segments/${run.tenant_id}/${run.id}/state-${link}.json`;

async function loadState(s: Services, run: SegmentRunRow): Promise<JobState> {
  if (run.state_key) {
    const obj = await s.files.get(run.state_key);
    if (!obj) throw new Error(`checkpoint ${run.state_key} is missing from R2`);
    return JSON.parse(await obj.text()) as JobState;
  }
  return run.state ? (JSON.parse(run.state) as JobState) : {};
}

/** Where the state of checkpoint `link` goes: inline, or an R2 object named after the link (same bytes if a link reruns). */
async function storeState(s: Services, run: SegmentRunRow, link: number, st: JobState): Promise<Pick<RunCheckpoint, "state" | "state_key">> {
  const json = JSON.stringify(st);
  if (json.length <= MAX_STATE_BYTES) return { state: json, state_key: null };
  const key = stateKey(run, link);
  await s.files.put(key, json);
  return { state: null, state_key: key };
}

/**
 * The first users whose ids, as one JSON parameter, stay under ~60 KB (D1: 100 KB per statement,
 * https://developers.cloudflare.com/d1/platform/limits/); the rest come in the next chunk. Ids are
 * short in practice, but may be up to 4096 characters.
 */
function fitJson(users: string[], max = 60_000): string[] {
  let bytes = 2;
  for (let i = 0; i < users.length; i++) {
    bytes += new TextEncoder().encode(JSON.stringify(users[i])).length + 1;
    if (bytes > max && i > 0) return users.slice(0, i);
  }
  return users;
}

/** `YYYY-MM-DD HH:MM:SS` (UTC) of epoch seconds: persona_members.computed_at. */
const timestampText = (seconds: number) => new Date(seconds * 1000).toISOString().slice(0, 19).replace("T", " ");

const round = (n: number, d = 4) => Math.round(n * 10 ** d) / 10 ** d;

interface Ctx {
  s: Services;
  run: SegmentRunRow;
  def: RunDefinition;
  opt: RunOptions;
  cfg: KMeansConfig;
  key: CompiledKey;
  filter: CompiledSegmentFilter | null;
  td: TenantData;
}

/** Scores one chunk of users: their latest answers and pushed scores, into vectors (null: no score). */
async function buildChunk(c: Ctx, users: string[]): Promise<{ user: string; vector: RawVector }[]> {
  const { key, td } = c;
  const answers = await surveyAnswers(td, users);
  const pushed = await pushedScores(td, users);
  const byUser = new Map<string, { answers: Map<string, string | null>; pushed: Map<number, number> }>();
  const of = (u: string) => {
    let e = byUser.get(u);
    if (!e) {
      e = { answers: new Map(), pushed: new Map() };
      byUser.set(u, e);
    }
    return e;
  };
  // Oldest first: a later answer or score overwrites an earlier one.
  for (const a of answers) if (key.questions.has(a.question_id)) of(a.user_id).answers.set(a.question_id, a.answer);
  for (const p of pushed) {
    const i = key.index.get(traitId(p.category, p.trait));
    // A pushed trait the key does not name is kept for export but takes no part in personas.
    if (i !== undefined) of(p.user_id).pushed.set(i, p.score);
  }
  const out: { user: string; vector: RawVector }[] = [];
  for (const user of users) {
    const e = byUser.get(user);
    const vector = e ? scoreUser(key, e.answers, e.pushed) : null;
    if (vector) out.push({ user, vector });
  }
  return out;
}

/** Estimated progress of the run (0-1), for GET /api/1/segments/:id. */
function progressOf(c: Ctx, phase: Phase, st: JobState, previousUsers: number | null): number {
  const total = st.total ?? 0;
  const within = (seen: number) => (total > 0 ? Math.min(1, seen / total) : 0);
  switch (phase) {
    case "build": {
      const seen = st.first?.users ?? 0;
      const expect = previousUsers && previousUsers > 0 ? previousUsers : seen * 2 + 1;
      return 0.2 * Math.min(0.99, seen / expect);
    }
    case "seed":
    case "iterate": {
      const km = st.km;
      const passes = c.cfg.k - 1 + Math.min(c.cfg.maxIterations, 20);
      const done = km?.phase === "seed" ? km.centres.length - 1 : km?.phase === "iterate" ? c.cfg.k - 1 + km.iteration : passes;
      return 0.2 + 0.6 * Math.min(0.99, (done + within(st.seen ?? 0)) / passes);
    }
    case "write":
      return 0.8 + 0.19 * within(st.seen ?? 0);
    default:
      return 0.99;
  }
}

async function step(ctx: StepContext): Promise<StepOutcome> {
  const { services: s, chain } = ctx;
  const run = await getSegmentRun(s.db, chain.tenant_id, chain.subject_id);
  // Gone, or ended (failed by a person or by giveUp): nothing to do.
  if (!run || run.status !== "running") return { done: true };
  // A rerun of a link whose checkpoint was recorded: move on from there.
  if (run.link > chain.position) return { next: run.link };
  if (run.link < chain.position) throw new Error(`run ${run.id} is at link ${run.link}, behind its chain (${chain.position})`);

  const segment = await getSegmentAnyState(s.db, run.tenant_id, run.segment_id);
  const def = JSON.parse(run.definition) as RunDefinition;
  const opt = JSON.parse(run.options) as RunOptions;
  const key = compileKey(def.key);
  const compiled = compileSegmentFilter(def.filters, new Date(def.now));
  // Checked when saved; a filter that no longer compiles must not turn into "everybody".
  if (compiled.issues.length) {
    const reason = `the segment's filters no longer compile: ${compiled.issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`.slice(0, 1000);
    await failSegmentRun(s.db, run.tenant_id, run.id, reason, s.clock.seconds());
    return { failed: reason };
  }
  const c: Ctx = {
    s,
    run,
    def,
    opt,
    key,
    cfg: { k: def.personas, dims: key.traits.length, seed: opt.seed, maxIterations: opt.max_iterations, tolerance: opt.tolerance },
    filter: compiled.filter,
    td: await shardForTenant(s, run.tenant_id),
  };
  const tenantId = run.tenant_id;

  let phase = run.phase as Phase;
  let cursor = run.cursor;
  let st = await loadState(s, run);
  // The segment was deleted meanwhile: stop computing and delete its rows.
  if ((!segment || segment.deleted_at !== null) && phase !== "purge") {
    phase = "purge";
    cursor = null;
    st = {};
  }

  let publish: { result: SegmentResult; users: number } | null = null;
  let finished = false;
  for (let i = 0; i < opt.chunks_per_link && !finished && !publish; i++) {
    switch (phase) {
      case "build": {
        st.first ??= startFirstPass(c.cfg.dims);
        const users = fitJson(await usersWithScores(c.td, cursor ?? "", opt.build_users));
        if (!users.length) {
          const km = endFirstPass(c.cfg, st.first);
          st.total = st.first.users;
          st.first = undefined;
          st.seen = 0;
          cursor = null;
          if (!km) {
            // Nobody in the segment: an empty result.
            st.computed_at = Math.max(s.clock.seconds(), (segment?.computed_at ?? 0) + 1);
            st.generation = timestampText(st.computed_at);
            publish = { users: 0, result: { traits: key.traits, personas: [], means: key.traits.map(() => null), iterations: 0, converged: true } };
            phase = "cleanup";
            break;
          }
          st.km = km;
          phase = km.phase === "seed" ? "seed" : "iterate";
          break;
        }
        const members = c.filter ? await filterUsers(c.td, users, c.filter) : users;
        const rows = await buildChunk(c, members);
        await writeVectors(c.td, run.segment_id, run.id, rows.map((r) => [r.user, JSON.stringify(r.vector)]));
        firstPassChunk(c.cfg, st.first, rows);
        cursor = users[users.length - 1] as string;
        break;
      }
      case "seed":
      case "iterate": {
        const km = st.km as KMeansState;
        const rows = await readVectors(c.td, run.segment_id, run.id, cursor ?? "", opt.chunk_users);
        if (!rows.length) {
          const next = endPass(c.cfg, km);
          st.km = next;
          st.seen = 0;
          cursor = null;
          if (next.phase === "final") {
            st.numbers = personaNumbers(next.counts);
            st.means = startMeans(Math.max(0, ...st.numbers), c.cfg.dims);
            st.computed_at = Math.max(s.clock.seconds(), (segment?.computed_at ?? 0) + 1);
            st.generation = timestampText(st.computed_at);
            phase = "write";
          } else phase = next.phase === "seed" ? "seed" : "iterate";
          break;
        }
        passChunk(
          c.cfg,
          km,
          rows.map((r) => ({ user: r.user_id, vector: JSON.parse(r.vector) as RawVector })),
        );
        st.seen = (st.seen ?? 0) + rows.length;
        cursor = rows[rows.length - 1]?.user_id as string;
        break;
      }
      case "write": {
        const km = st.km as Extract<KMeansState, { phase: "final" }>;
        const numbers = st.numbers as number[];
        const means = st.means as TraitMeans;
        const rows = await readVectors(c.td, run.segment_id, run.id, cursor ?? "", opt.chunk_users);
        if (!rows.length) {
          const personas = numbers
            .map((persona, cluster) => ({ persona, cluster }))
            .filter((p) => p.persona > 0)
            .sort((a, b) => a.persona - b.persona)
            .map(({ persona, cluster }) => ({
              persona,
              users: km.counts[cluster] as number,
              centre: (km.centres[cluster] as number[]).map((v) => round(v)),
              means: (means.sums[persona - 1] as number[]).map((sum, t) => {
                const n = (means.counts[persona - 1] as number[])[t] as number;
                return n > 0 ? round(sum / n) : null;
              }),
            }));
          const all = key.traits.map((_, t) => {
            let sum = 0;
            let n = 0;
            means.sums.forEach((row, p) => {
              sum += row[t] as number;
              n += (means.counts[p] as number[])[t] as number;
            });
            return n > 0 ? round(sum / n) : null;
          });
          publish = { users: st.total ?? 0, result: { traits: key.traits, personas, means: all, iterations: km.iterations, converged: km.converged } };
          cursor = null;
          phase = "cleanup";
          break;
        }
        const members: [number, string, number][] = [];
        for (const r of rows) {
          const vector = JSON.parse(r.vector) as RawVector;
          const { persona, distance } = assignFinal(km, numbers, vector);
          addToMeans(means, persona, vector);
          members.push([persona, r.user_id, round(distance)]);
        }
        await writeMembers(c.td, run.segment_id, st.generation as string, s.clock.seconds(), members);
        st.seen = (st.seen ?? 0) + rows.length;
        cursor = rows[rows.length - 1]?.user_id as string;
        break;
      }
      case "cleanup":
      case "purge": {
        let gone = await deleteVectors(c.td, run.segment_id, DELETE_BATCH);
        if (phase === "purge") gone += await deleteMembers(c.td, run.segment_id, null, DELETE_BATCH);
        // The previous result's rows go only once this one is what the segment serves.
        else if (segment?.generation && segment.generation === st.generation) gone += await deleteMembers(c.td, run.segment_id, segment.generation, DELETE_BATCH);
        if (gone === 0) finished = true;
        break;
      }
    }
    await ctx.heartbeat();
  }

  const now = s.clock.seconds();
  const to = run.link + 1;
  if (finished) {
    await s.db.batch([checkpointSegmentRun(s.db, tenantId, run.id, run.link, to, { status: "done", phase, cursor: null, state: null, state_key: null, progress: 1, finished_at: now }, now)]);
    if (run.state_key) await s.files.delete(run.state_key).catch(() => {});
    // The segment changed, or a recompute was asked for, while this one ran: start the next now
    // (the cron would, within a minute, if this start is lost).
    if (phase === "cleanup" && segment && segment.deleted_at === null && segment.defined_at > run.created_at) {
      await startRecompute(s, segment, "follow-up");
    }
    return { done: true };
  }
  const stored = await storeState(s, run, to, st);
  const checkpoint = checkpointSegmentRun(
    s.db,
    tenantId,
    run.id,
    run.link,
    to,
    { phase, cursor, ...stored, users: st.total ?? st.first?.users ?? 0, progress: progressOf(c, phase, st, segment?.users ?? null) },
    now,
  );
  if (publish) {
    await s.db.batch([
      checkpoint,
      publishSegmentResult(s.db, tenantId, run.segment_id, run.id, to, {
        computed_at: st.computed_at as number,
        generation: st.generation as string,
        users: publish.users,
        result: JSON.stringify(publish.result),
        now,
      }),
    ]);
  } else {
    await s.db.batch([checkpoint]);
  }
  if (run.state_key && run.state_key !== stored.state_key) await s.files.delete(run.state_key).catch(() => {});
  return { next: to };
}

/** The `segment` chain kind (registered in src/jobs/index.ts). */
export const segmentJob: ChainJob = {
  step,
  async giveUp(s, chain, reason) {
    await failSegmentRun(s.db, chain.tenant_id, chain.subject_id, reason.slice(0, 1000), s.clock.seconds());
  },
};
