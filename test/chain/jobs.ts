import type { ChainJob, ChainJobs } from "../../src/chain";
import { CHAIN_KINDS, type ChainKind } from "../../src/db/schema";

/**
 * A registry with only the jobs a test drives. Every other kind gets a job that fails loudly,
 * so a chain of a kind the test did not mean to handle (one swept in from another test, say)
 * is an error in the test, never a silent success.
 */
export function onlyJobs(jobs: Partial<ChainJobs>): ChainJobs {
  const refuse = (kind: ChainKind): ChainJob => ({
    step: async () => {
      throw new Error(`this test registers no job for chains of kind ${kind}`);
    },
    giveUp: async () => {},
  });
  return Object.fromEntries(CHAIN_KINDS.map((k) => [k, jobs[k] ?? refuse(k)])) as ChainJobs;
}
