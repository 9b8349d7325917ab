import type { Services } from "../../src/services";

/**
 * Crashes injected by wrapping the services a run uses (fault injection lives in test
 * wrappers, not in production code). Each point fails right AFTER the real operation
 * succeeded, as a worker killed at that moment would leave things:
 *   after_chunk        a chunk was read from the shard
 *   after_part_upload  a multipart part was uploaded to R2
 *   after_carry_write  the remainder of a step was stored in R2
 *   after_checkpoint   the step's checkpoint batch committed in D1 (before the chain moved on)
 *   after_complete     the multipart upload was completed (fires at the next R2 call)
 *   after_manifest     the manifest was written (before the run was marked finished)
 * A point is armed for one crash: it fires once, then disarms.
 */
export const POINTS = ["after_chunk", "after_part_upload", "after_carry_write", "after_checkpoint", "after_complete", "after_manifest"] as const;
export type Point = (typeof POINTS)[number];

export class Faults {
  private armed = new Set<Point>();
  fired: Point[] = [];

  /** Called after every chunk read from the shard (before any crash point there). */
  onChunk: (() => void) | null = null;
  /** Awaited before every multipart part upload: holds a part "in flight" as long as it likes. */
  beforePart: ((n: number) => Promise<void>) | null = null;

  arm(...points: Point[]): this {
    for (const p of points) this.armed.add(p);
    return this;
  }
  disarm(): void {
    this.armed.clear();
  }
  private hit(p: Point): void {
    if (!this.armed.delete(p)) return;
    this.fired.push(p);
    throw new Error(`injected fault at ${p}`);
  }
  /**
   * A crash that happens at the caller's next R2 call: the operation itself returned normally
   * (so code that guards the operation with its own try/catch does not see the crash).
   */
  private pending: Point | null = null;
  private defer(p: Point): void {
    if (this.armed.has(p)) this.pending = p;
  }
  private firePending(): void {
    const p = this.pending;
    this.pending = null;
    if (p) this.hit(p);
  }

  /** The services with every crash point wired in. */
  wrap = (s: Services): Services => {
    const faults = this;
    const upload = (u: R2MultipartUpload): R2MultipartUpload => ({
      key: u.key,
      uploadId: u.uploadId,
      async uploadPart(n: number, value: Parameters<R2MultipartUpload["uploadPart"]>[1], o?: R2UploadPartOptions) {
        await faults.beforePart?.(n);
        const r = await u.uploadPart(n, value, o);
        faults.hit("after_part_upload");
        return r;
      },
      abort: () => u.abort(),
      async complete(parts: R2UploadedPart[]) {
        const r = await u.complete(parts);
        faults.defer("after_complete");
        return r;
      },
    });
    const files = new Proxy(s.files, {
      get(target, prop) {
        faults.firePending();
        if (prop === "createMultipartUpload") {
          return async (...a: Parameters<R2Bucket["createMultipartUpload"]>) => upload(await target.createMultipartUpload(...a));
        }
        if (prop === "resumeMultipartUpload") return (...a: Parameters<R2Bucket["resumeMultipartUpload"]>) => upload(target.resumeMultipartUpload(...a));
        if (prop === "put") {
          return async (...a: Parameters<R2Bucket["put"]>) => {
            const r = await target.put(...a);
            if (a[0].includes("/carry-")) faults.hit("after_carry_write");
            if (a[0].endsWith("/manifest.json")) faults.hit("after_manifest");
            return r;
          };
        }
        const v = Reflect.get(target, prop, target);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const db = new Proxy(s.db, {
      get(target, prop, receiver) {
        if (prop === "batch") {
          return async (stmts: { toSQL?: () => { sql: string } }[]) => {
            const r = await target.batch(stmts as unknown as Parameters<typeof target.batch>[0]);
            if (stmts.some((q) => q.toSQL?.().sql.includes("export_run_checkpoints"))) faults.hit("after_checkpoint");
            return r;
          };
        }
        return Reflect.get(target, prop, receiver);
      },
    });
    const shardDb = (d: D1Database): D1Database =>
      new Proxy(d, {
        get(target, prop) {
          if (prop === "prepare") {
            return (sql: string) => {
              const stmt = target.prepare(sql);
              return new Proxy(stmt, {
                get(st, p) {
                  if (p === "bind") {
                    return (...args: unknown[]) => {
                      const bound = st.bind(...args);
                      return new Proxy(bound, {
                        get(b, q) {
                          // a chunk is read with raw() (src/db/shards/exports.ts); all() too, for any other reader
                          if (q === "all" || q === "raw") {
                            return async (...a: unknown[]) => {
                              const r = await (b[q] as (...x: unknown[]) => Promise<unknown>).apply(b, a);
                              faults.onChunk?.();
                              faults.hit("after_chunk");
                              return r;
                            };
                          }
                          const v = Reflect.get(b, q, b);
                          return typeof v === "function" ? v.bind(b) : v;
                        },
                      });
                    };
                  }
                  const v = Reflect.get(st, p, st);
                  return typeof v === "function" ? v.bind(st) : v;
                },
              });
            };
          }
          const v = Reflect.get(target, prop, target);
          return typeof v === "function" ? v.bind(target) : v;
        },
      });
    return { ...s, files, db, shards: { count: () => s.shards.count(), db: (n) => shardDb(s.shards.db(n)) } };
  };
}
