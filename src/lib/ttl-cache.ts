/** What a TtlCache reads the time from: the services' clock (src/services). */
export interface CacheClock {
  /** epoch milliseconds */
  now(): number;
}

/**
 * A small per-isolate cache with a time-to-live. Isolates are short-lived and not shared, so
 * entries elsewhere expire on their own after `ttlMs`. The cache lives for the isolate while
 * each request or job brings its own services, so every read and write takes the caller's clock
 * (`services.clock`): a test that moves its clock sees the entry expire.
 */
export class TtlCache<V> {
  private readonly map = new Map<string, { value: V; expires: number }>();
  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  get(key: string, clock: CacheClock): V | undefined {
    const hit = this.map.get(key);
    if (!hit) return undefined;
    if (hit.expires < clock.now()) {
      this.map.delete(key);
      return undefined;
    }
    return hit.value;
  }

  set(key: string, value: V, clock: CacheClock): void {
    if (this.map.size >= this.maxEntries) {
      const oldest = this.map.keys().next().value;
      if (oldest !== undefined) this.map.delete(oldest);
    }
    this.map.set(key, { value, expires: clock.now() + this.ttlMs });
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  /** Drops every entry whose value matches. */
  deleteWhere(match: (value: V) => boolean): void {
    for (const [k, v] of this.map) if (match(v.value)) this.map.delete(k);
  }

  clear(): void {
    this.map.clear();
  }
}
