// Prints the data-shard DDL generated from the model catalog (src/models).
// Usage: npm run gen:data-ddl > migrations/data/000N_<name>.sql (then edit into an ALTER for existing tables).
// `npm run gen:data-ddl -- fences` prints the tenant-move fence tables and triggers of every
// tenant table (src/db/shards/moves.ts fenceDdl; migrations/data/0006_tenant_moves.sql).
import { build } from "esbuild";

const out = await build({
  stdin: { contents:
      process.argv[2] === "fences"
        ? 'import { fenceDdl } from "./src/db/shards/moves"; console.log(fenceDdl());'
        : 'import { catalogDdl } from "./src/models/ddl"; console.log(catalogDdl());', resolveDir: ".", loader: "ts" },
  bundle: true,
  platform: "node",
  format: "esm",
  write: false,
});
await import(`data:text/javascript;base64,${Buffer.from(out.outputFiles[0].text).toString("base64")}`);
