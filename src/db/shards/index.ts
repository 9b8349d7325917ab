/**
 * The one module for data-shard reads and writes: the router (which database holds a tenant)
 * and the SQL run on the shards, one file per concern.
 */
export * from "./router";
export * from "./records";
export * from "./exports";
export * from "./segments";
export * from "./stats";
export * from "./campaigns";
export * from "./moves";
