/** The one module for data-shard reads and writes; one file per concern, re-exported here. */
export * from "./exports";
