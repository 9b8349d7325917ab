/**
 * One reading interface over the source types: list a page, read a byte range of one file
 * version, stream one file version. Backed by the delivery drivers' clients (src/targets),
 * which own SigV4 / SAS / OAuth tokens, host checks, retries and error classification.
 */
import type { Env } from "../../env";
import { getBlobRange, getBlobStream, listBlobs } from "../../targets/azure";
import { getGcsRange, getGcsStream, listGcsObjects } from "../../targets/gcs";
import type { ObjectPage } from "../../targets/s3";
import { getObjectRange, getObjectStream, listObjects } from "../../targets/s3";
import type { DeliveryOptions } from "../../targets/types";
import type { SourceConfig } from "./config";

export interface SourceStorage {
  /** where the files are, for messages: `s3://bucket/prefix` */
  location: string;
  /** One page of the listing from `cursor` (null: from the start); `cursor` of the result is null at the end. */
  list(cursor: string | null, maxKeys: number): Promise<{ objects: ObjectPage["objects"]; cursor: string | null }>;
  range(key: string, etag: string, offset: number, length: number): Promise<Uint8Array>;
  stream(key: string, etag: string): Promise<ReadableStream<Uint8Array>>;
}

/** A reader over an unsealed source configuration. */
export function openStorage(env: Env, cfg: SourceConfig, opts: DeliveryOptions = {}): SourceStorage {
  if (cfg.type === "s3") {
    return {
      location: `s3://${cfg.bucket}/${cfg.prefix}`,
      // The cursor is the last key seen (start-after): it stays valid however long the sweep takes.
      list: async (cursor, maxKeys) => {
        const page = await listObjects(env, cfg, { prefix: cfg.prefix, startAfter: cursor, maxKeys }, opts);
        return { objects: page.objects, cursor: page.next ? (page.objects.at(-1)?.key ?? null) : null };
      },
      range: (key, etag, offset, length) => getObjectRange(env, cfg, key, etag, { offset, length }, opts),
      stream: (key, etag) => getObjectStream(env, cfg, key, etag, opts),
    };
  }
  if (cfg.type === "gcs") {
    return {
      location: `gs://${cfg.bucket}/${cfg.prefix}`,
      // The cursor is objects.list's nextPageToken; an object's version is its generation.
      list: async (cursor, maxKeys) => {
        const page = await listGcsObjects(env, cfg, { prefix: cfg.prefix, token: cursor, maxKeys }, opts);
        return { objects: page.objects, cursor: page.next };
      },
      range: (key, generation, offset, length) => getGcsRange(env, cfg, key, generation, { offset, length }, opts),
      stream: (key, generation) => getGcsStream(env, cfg, key, generation, opts),
    };
  }
  return {
    location: `${cfg.endpoint.replace(/\/+$/, "")}/${cfg.container}/${cfg.prefix}`,
    // List Blobs has no start-after: the cursor is its NextMarker.
    list: async (cursor, maxKeys) => {
      const page = await listBlobs(env, cfg, { prefix: cfg.prefix, token: cursor, maxKeys }, opts);
      return { objects: page.objects, cursor: page.next };
    },
    range: (key, etag, offset, length) => getBlobRange(env, cfg, key, etag, { offset, length }, opts),
    stream: (key, etag) => getBlobStream(env, cfg, key, etag, opts),
  };
}
