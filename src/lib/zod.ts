/**
 * What `import ... from "zod"` resolves to in the workers' bundles (`[alias]` in wrangler.toml and
 * wrangler.jobs.toml; https://developers.cloudflare.com/workers/wrangler/configuration/#module-aliasing).
 *
 * Why: @hono/zod-openapi runs `extendZodWithOpenApi(z)` at import with zod's whole namespace
 * object (`import { z } from "zod"`), and a namespace used as a value makes esbuild keep every
 * export of it: all of zod's 40-odd locales (262 KiB of the API worker's 1086 KiB) besides the
 * rest. Here every name of zod is re-exported as it is (so `import * as z from "zod"` tree-shakes
 * to what the code calls), and the `z` that @hono/zod-openapi imports is the one member
 * `extendZodWithOpenApi` touches, `ZodType` (it adds `.openapi()` to its prototype, which every
 * schema class shares). Ferry's own code never imports `z` by name (biome.json forbids it):
 * under the alias it would be this object. Tests and type checks see zod itself; the node tests
 * run the bundles through `npm run dev`, so they run this module.
 */
import { ZodType } from "zod/v4";

export * from "zod/v4";
export const z = { ZodType };
export default z;
