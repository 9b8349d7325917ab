// Prints the data-shard DDL generated from the model catalog (src/models).
// Usage: npm run gen:data-ddl > migrations/data/000N_<name>.sql (then edit into an ALTER for existing tables).
import { build } from "esbuild";

const out = await build({
  stdin: { contents: 'import { catalogDdl } from "./src/models/ddl"; console.log(catalogDdl());', resolveDir: ".", loader: "ts" },
  bundle: true,
  platform: "node",
  format: "esm",
  write: false,
});
await import(`data:text/javascript;base64,${Buffer.from(out.outputFiles[0].text).toString("base64")}`);
