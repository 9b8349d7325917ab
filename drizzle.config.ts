import { defineConfig } from "drizzle-kit";

/**
 * Control-database migrations are generated from src/db/schema.ts:
 *   npm run db:generate -- --name <what_changed>
 * writes migrations/control/NNNN_<what_changed>.sql (applied by wrangler d1 migrations) and the
 * schema snapshot drizzle-kit diffs against next time (migrations/control/meta/).
 * The data shards keep their catalog-generated DDL (migrations/data/, npm run gen:data-ddl).
 */
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema.ts",
  out: "./migrations/control",
});
