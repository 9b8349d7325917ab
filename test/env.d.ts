import type { Env as FerryEnv } from "../src/env";

declare global {
  namespace Cloudflare {
    interface Env extends FerryEnv {}
  }
}
