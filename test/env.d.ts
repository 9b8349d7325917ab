import type { EnvExtras } from "../src/env";

// `env` from cloudflare:test is a Cloudflare.Env: the generated bindings (src/worker-configuration.d.ts)
// plus, here, what src/env.ts adds to them, so it is the Worker's Env.
declare global {
  namespace Cloudflare {
    interface Env extends EnvExtras {}
  }
}
