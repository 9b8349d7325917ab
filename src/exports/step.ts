import { Sha256, type Sha256State } from "../lib/sha256";
import type { Compressor, Formatter, FormatterState, Row } from "./types";

/**
 * The pure heart of a run: rows in, file bytes out. Given the formatter and compressor of a
 * definition, the state left by the previous call (or null before the first) and the next
 * rows (or "end"), `step` returns the bytes to append to the file and the state to keep.
 * State is plain JSON, so a run checkpoints it in D1 and resumes in another invocation; the
 * same rows from the same state always give the same bytes, which is what makes a step
 * redone after a crash harmless. I/O (reading rows, uploading parts) is the caller's
 * (src/runs/).
 */

/** Tuning a run keeps from start to end, so a resumed run cuts its bytes the same way. */
export interface RunOptions {
  /** Size of every multipart part but the last. */
  part_size: number;
  /** Rows per keyset-paginated query. */
  chunk_rows: number;
  /** Queries per checkpoint at most (a checkpoint is also written whenever a part was uploaded). */
  chunks_per_step: number;
  /** Checkpoints one chain link produces before handing over to the next link. */
  steps_per_message: number;
}

/**
 * R2 multipart uploads need every part but the last to be at least 5 MiB and all of
 * the same size. https://developers.cloudflare.com/r2/objects/multipart-objects/
 */
export const MIN_PART_SIZE = 5 * 1024 * 1024;

export interface StepState {
  formatter: FormatterState;
  compressor: FormatterState;
  /** the running sha256 of every byte emitted so far; null once the file is complete */
  hash: Sha256State | null;
}

export interface Pipeline {
  formatter: Formatter;
  compressor: Compressor;
}

export interface StepResult {
  bytes: Uint8Array;
  state: StepState;
  /** hex sha256 of the whole file, once `end` was stepped */
  sha256: string | null;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const nonEmpty = chunks.filter((c) => c.length > 0);
  if (nonEmpty.length === 1) return nonEmpty[0] as Uint8Array;
  const out = new Uint8Array(nonEmpty.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of nonEmpty) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * One step of the pipeline. `state` null means nothing was emitted yet: the file's opening
 * bytes (compressor header, formatter header) come first. The given state is not changed.
 */
export function step(p: Pipeline, state: StepState | null, input: Row[] | "end"): StepResult {
  const st: StepState = state ? structuredClone(state) : { formatter: {}, compressor: {}, hash: null };
  const { formatter: fs, compressor: cs } = st;
  const out: Uint8Array[] = [];
  if (!state) {
    out.push(p.compressor.start(cs));
    out.push(p.compressor.push(p.formatter.start(fs), cs));
  }
  if (input === "end") {
    out.push(p.compressor.push(p.formatter.finish(fs), cs));
    out.push(p.compressor.finish(cs));
  } else if (input.length > 0) {
    out.push(p.compressor.push(p.formatter.rows(input, fs), cs));
  }
  const bytes = concat(out);
  const hash = new Sha256(st.hash ?? undefined);
  if (bytes.length > 0) hash.update(bytes);
  const end = input === "end";
  return { bytes, state: { formatter: fs, compressor: cs, hash: end ? null : hash.state() }, sha256: end ? hash.digestHex() : null };
}
