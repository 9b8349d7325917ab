import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src/env";
import { TtlCache } from "../../src/lib/ttl-cache";
import { createServices, fixedClock } from "../../src/services";
import { CREDENTIAL_CACHE_MS, authenticateApiKey } from "../../src/tenants/tenants";
import { setupTenant } from "../helpers";

/** The per-isolate caches keep time by the caller's clock (services.clock), never the wall clock. */
describe("TtlCache", () => {
  it("keeps an entry for its time-to-live by the clock it is given, then drops it", () => {
    const clock = fixedClock(Date.UTC(2031, 0, 1));
    const cache = new TtlCache<string>(1000);
    cache.set("k", "v", clock);
    clock.set(Date.UTC(2031, 0, 1) + 1000);
    expect(cache.get("k", clock)).toBe("v");
    clock.set(Date.UTC(2031, 0, 1) + 1001);
    expect(cache.get("k", clock)).toBeUndefined();
    // dropped, not only hidden: the clock going back does not bring it back
    clock.set(Date.UTC(2031, 0, 1));
    expect(cache.get("k", clock)).toBeUndefined();
  });

  it("a revoked API key is still accepted while cached and refused once the services' clock passes the cache time", async () => {
    const t = await setupTenant("ttl-cache");
    const start = Date.UTC(2031, 5, 1);
    const clock = fixedClock(start);
    const s = createServices(env as unknown as Env, { clock });
    expect((await authenticateApiKey(s, t.apiKey))?.tenantId).toBe(t.tenant.id);

    await (env as unknown as Env).DB.prepare("UPDATE api_keys SET revoked_at = ?1 WHERE id = ?2").bind(Math.floor(start / 1000), t.apiKeyId).run();
    clock.set(start + CREDENTIAL_CACHE_MS);
    expect((await authenticateApiKey(s, t.apiKey))?.tenantId).toBe(t.tenant.id);
    clock.set(start + CREDENTIAL_CACHE_MS + 1);
    expect(await authenticateApiKey(s, t.apiKey)).toBeNull();
  });
});
