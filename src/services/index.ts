import { type ControlDb, controlDb } from "../db/client";
import { type Shards, shardRouter } from "../db/shards/router";
import type { Env } from "../env";
import type { JobMessage } from "../jobs/messages";
import { decryptSecret, encryptSecret } from "../lib/crypto";
import { missingToolbox, remoteToolbox, type Toolbox } from "./toolbox";

/**
 * Everything the code below the entry points needs from the platform, built in one place
 * for fetch, queue and scheduled alike (src/index.ts). Tests build it the same way and
 * replace what they must observe or break: a fixed clock, an R2 bucket that fails on
 * the third part upload, a queue that drops a message.
 */
export interface Services {
  env: Env;
  /** the control database through drizzle (the repositories in src/db/ take it) */
  db: ControlDb;
  /** the control database binding, for the repositories that batch raw statements */
  d1: D1Database;
  /** the data-shard router (src/db/shards/) */
  shards: Shards;
  /** export files, staged uploads, manifests (binding FILES) */
  files: R2Bucket;
  /** the jobs queue */
  jobs: Jobs;
  clock: Clock;
  secrets: Secrets;
  /** target checks, OpenPGP keys, upload aborts: the jobs worker's libraries (src/services/toolbox.ts) */
  toolbox: Toolbox;
}

export type { Shards, Toolbox };

export interface Clock {
  /** epoch milliseconds */
  now(): number;
  /** epoch seconds, floored */
  seconds(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  seconds: () => Math.floor(Date.now() / 1000),
};

/** A clock that stands still at `ms` until moved; for tests. */
export function fixedClock(ms: number): Clock & { set(ms: number): void; advance(seconds: number): void } {
  let t = ms;
  return {
    now: () => t,
    seconds: () => Math.floor(t / 1000),
    set: (v) => {
      t = v;
    },
    advance: (s) => {
      t += s * 1000;
    },
  };
}

export interface Jobs {
  send(msg: JobMessage, opts?: { delaySeconds?: number }): Promise<void>;
}

/** Seal (AES-GCM at rest), unseal and mask the secret fields of targets, sources and notifications. */
export interface Secrets {
  seal(plain: string): Promise<string>;
  unseal(sealed: string): Promise<string>;
}

/**
 * `toolbox`: an instance, or a factory given the services being built (the in-process one,
 * src/jobs/toolbox.ts); by default the jobs worker's over the TOOLBOX binding, if there is one.
 */
export type ServiceOverrides = Partial<Omit<Services, "env" | "toolbox">> & { toolbox?: Toolbox | ((s: Services) => Toolbox) };

export function createServices(env: Env, overrides: ServiceOverrides = {}): Services {
  const { toolbox, ...rest } = overrides;
  const s: Services = {
    env,
    db: controlDb(env),
    d1: env.DB,
    shards: shardRouter(env),
    files: env.FILES,
    jobs: {
      async send(msg, opts) {
        await env.JOBS.send(msg, opts?.delaySeconds ? { delaySeconds: opts.delaySeconds } : undefined);
      },
    },
    clock: systemClock,
    secrets: {
      seal: (plain) => encryptSecret(env.SECRETS_KEY, plain),
      unseal: (sealed) => decryptSecret(env.SECRETS_KEY, sealed),
    },
    // The API worker reaches the jobs worker's toolbox over its service binding; the jobs worker
    // and the all-in-one entry pass the in-process one (src/jobs/toolbox.ts) as an override.
    toolbox: env.TOOLBOX ? remoteToolbox(env.TOOLBOX) : missingToolbox,
    ...rest,
  };
  if (toolbox) s.toolbox = typeof toolbox === "function" ? toolbox(s) : toolbox;
  return s;
}
