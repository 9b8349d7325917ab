/**
 * Azure Blob Storage with a SAS token, over fetch, as a resumable upload (TargetDriver): Put
 * Blob for files up to one block, above that one Put Block per delivery chain link and a Put
 * Block List to commit.
 * https://learn.microsoft.com/en-us/rest/api/storageservices/put-blob
 * https://learn.microsoft.com/en-us/rest/api/storageservices/put-block
 * https://learn.microsoft.com/en-us/rest/api/storageservices/put-block-list
 *
 * Verified only against the loopback stand-in in test/servers/azure.ts, not against Azure.
 */
import type { AzureTarget } from "./config";
import { checkTargetHost } from "./hosts";
import type { Env } from "../env";
import { type HttpFailure, MiB, choosePartSize, rangeBody, requestWithRetry, requestWithRetryAs } from "./http";
import { type ObjectPage, unquote, xmlText } from "./s3";
import {
  type DeliveryOptions,
  type TargetDriver,
  TargetError,
  UploadRestart,
  type UploadState,
  expandTemplate,
  partCount,
  partRange,
} from "./types";

const API_VERSION = "2023-11-03";
const TRANSIENT_CODES = new Set(["ServerBusy", "InternalError", "OperationTimedOut"]);

/** What the read functions need of a container configuration (a delivery target or an ingestion source). */
export type AzureContainer = Pick<AzureTarget, "endpoint" | "container" | "sas_token">;

function classify(cfg: AzureContainer, what: string, grant = "create and write") {
  return (f: HttpFailure): TargetError => {
    const detail = `${what} in container '${cfg.container}' failed: ${f.status} ${f.code}${f.message ? ` (${f.message})` : ""}`;
    if (f.code === "ContainerNotFound") return new TargetError("not_found", `container '${cfg.container}' does not exist at ${cfg.endpoint}`);
    if (f.status === 403 || f.code === "AuthenticationFailed" || f.code === "AuthorizationPermissionMismatch") {
      return new TargetError("auth", `${detail}; check that the SAS token is valid, unexpired and grants ${grant}`);
    }
    if (f.status >= 500 || f.status === 429 || TRANSIENT_CODES.has(f.code)) return new TargetError("transient", detail);
    if (f.status === 404) return new TargetError("not_found", detail);
    return new TargetError("refused", detail);
  };
}

function blobUrl(cfg: AzureContainer, blob: string, query = ""): string {
  const base = cfg.endpoint.replace(/\/+$/, "");
  const sas = cfg.sas_token.replace(/^\?/, "");
  const name = blob.split("/").map(encodeURIComponent).join("/");
  return `${base}/${cfg.container}/${name}?${query ? `${query}&` : ""}${sas}`;
}

/**
 * Block ids must all have the same length within a blob (before base64). Fixed per part number,
 * so a part sent again stages the same block again.
 */
const blockId = (i: number) => btoa(`ferry-block-${String(i).padStart(6, "0")}`);

const headers = (extra: Record<string, string> = {}) => ({ "x-ms-version": API_VERSION, ...extra });

/** What an Azure delivery keeps between blocks. */
export interface AzureUploadState extends UploadState {
  blob: string;
  content_type: string;
  /** false: the file fits one block and goes up in one Put Blob */
  blocks: boolean;
}

export const azureDriver: TargetDriver<AzureTarget, AzureUploadState> = {
  async test(env, cfg, opts = {}) {
    await checkTargetHost(env, new URL(cfg.endpoint).hostname);
    // Stage one uncommitted block: proves the SAS may write to the container, and
    // leaves nothing visible (uncommitted blocks are discarded after a week).
    const url = blobUrl(cfg, ".ferry-connection-test", `comp=block&blockid=${encodeURIComponent(blockId(0))}`);
    await requestWithRetry("Put Block", (signal) => fetch(url, { method: "PUT", body: "ferry", headers: headers(), signal }), classify(cfg, "Put Block"), opts);
  },

  /** Nothing to start: blocks are staged under the blob's name and appear only when committed. */
  async begin(s, cfg, file, ctx) {
    await checkTargetHost(s.env, new URL(cfg.endpoint).hostname);
    const blob = expandTemplate(cfg.blob, file, ctx).replace(/^\/+/, "");
    const part_size = choosePartSize(file.size, cfg.block_size_mb * MiB);
    return { size: file.size, part_size, sent: 0, blob, content_type: file.contentType, blocks: file.size > part_size };
  },

  async putPart(s, cfg, state, n, bytes, opts = {}) {
    await checkTargetHost(s.env, new URL(cfg.endpoint).hostname);
    const range = partRange(state, n);
    if (bytes.byteLength !== range.length) throw new Error(`block ${n} has ${bytes.byteLength} bytes, expected ${range.length}`);
    if (!state.blocks) {
      await putBlob(cfg, state, bytes, opts);
      return { ...state, sent: state.size };
    }
    const id = blockId(n);
    await requestWithRetry(
      `Put Block ${n}`,
      (signal) => fetch(blobUrl(cfg, state.blob, `comp=block&blockid=${encodeURIComponent(id)}`), { method: "PUT", body: bytes, headers: headers(), signal }),
      classify(cfg, `Put Block ${n}`),
      opts,
    );
    return { ...state, sent: range.offset + range.length };
  },

  /**
   * Put Block List with every block as `Latest`: Azure takes the uncommitted block of that id,
   * or else the committed one, so committing again after a lost answer commits the same blob.
   */
  async complete(s, cfg, state, opts = {}) {
    await checkTargetHost(s.env, new URL(cfg.endpoint).hostname);
    const location = `${cfg.endpoint.replace(/\/+$/, "")}/${cfg.container}/${state.blob}`;
    if (!state.blocks) {
      if (state.size === 0) await putBlob(cfg, state, new Uint8Array(0), opts);
      else if (state.sent !== state.size) throw new UploadRestart(`blob ${state.blob}: the file was not sent before completing`);
      return { location };
    }
    const ids = Array.from({ length: partCount(state.size, state.part_size) }, (_, i) => blockId(i + 1));
    const xml = `<?xml version="1.0" encoding="utf-8"?><BlockList>${ids.map((id) => `<Latest>${id}</Latest>`).join("")}</BlockList>`;
    let missingBlocks = false;
    try {
      await requestWithRetry(
        "Put Block List",
        (signal) =>
          fetch(blobUrl(cfg, state.blob, "comp=blocklist"), {
            method: "PUT",
            body: xml,
            headers: headers({ "content-type": "application/xml", "x-ms-blob-content-type": state.content_type }),
            signal,
          }),
        (f) => {
          missingBlocks ||= f.code === "InvalidBlockList";
          return classify(cfg, "Put Block List")(f);
        },
        opts,
      );
    } catch (err) {
      // Staged blocks expire after a week, and a Put Blob of the same name drops them.
      if (missingBlocks) throw new UploadRestart(`blob ${state.blob}: Azure no longer has every staged block (${(err as Error).message})`);
      throw err;
    }
    return { location };
  },

  /**
   * Nothing to drop: uncommitted blocks are discarded by Azure after a week, and there is no
   * call that deletes them without deleting a committed blob of the same name.
   * https://learn.microsoft.com/en-us/rest/api/storageservices/put-block#remarks
   */
  async abort() {},
};

async function putBlob(cfg: AzureContainer, state: AzureUploadState, body: Uint8Array, opts: DeliveryOptions) {
  await requestWithRetry(
    "Put Blob",
    (signal) =>
      fetch(blobUrl(cfg, state.blob), { method: "PUT", body, headers: headers({ "x-ms-blob-type": "BlockBlob", "x-ms-blob-content-type": state.content_type }), signal }),
    classify(cfg, "Put Blob"),
    opts,
  );
}

function containerUrl(cfg: AzureContainer, query: Record<string, string>): string {
  const base = cfg.endpoint.replace(/\/+$/, "");
  const sas = cfg.sas_token.replace(/^\?/, "");
  return `${base}/${cfg.container}?${new URLSearchParams(query).toString()}&${sas}`;
}

/**
 * One page of List Blobs (needs the SAS `l` permission), from the `marker` of the previous page.
 * https://learn.microsoft.com/en-us/rest/api/storageservices/list-blobs
 */
export async function listBlobs(
  env: Env,
  cfg: AzureContainer,
  page: { prefix?: string; token?: string | null; maxKeys?: number },
  opts: DeliveryOptions = {},
): Promise<ObjectPage> {
  await checkTargetHost(env, new URL(cfg.endpoint).hostname);
  const q: Record<string, string> = { restype: "container", comp: "list", maxresults: String(page.maxKeys ?? 1000) };
  if (page.prefix) q.prefix = page.prefix;
  if (page.token) q.marker = page.token;
  const url = containerUrl(cfg, q);
  const { body } = await requestWithRetry("List Blobs", (signal) => fetch(url, { headers: headers(), signal }), classify(cfg, "List Blobs", "list and read"), opts);
  const objects = [...body.matchAll(/<Blob>([\s\S]*?)<\/Blob>/g)].map((m) => {
    const b = m[1] ?? "";
    return {
      key: xmlText(/<Name>([\s\S]*?)<\/Name>/.exec(b)?.[1] ?? ""),
      etag: unquote(xmlText(/<Etag>([\s\S]*?)<\/Etag>/i.exec(b)?.[1] ?? "")),
      size: Number(/<Content-Length>(\d+)<\/Content-Length>/.exec(b)?.[1] ?? 0),
    };
  });
  const next = /<NextMarker>([\s\S]*?)<\/NextMarker>/.exec(body)?.[1];
  return { objects: objects.filter((o) => o.key), next: next ? xmlText(next) : null };
}

function readClassify(cfg: AzureContainer, what: string, blob: string) {
  const base = classify(cfg, what, "read");
  return (f: HttpFailure) =>
    f.status === 412 || f.code === "ConditionNotMet"
      ? new TargetError("refused", `blob ${blob} changed while it was read (its ETag no longer matches)`)
      : f.code === "BlobNotFound"
        ? new TargetError("not_found", `blob ${blob} is gone`)
        : base(f);
}

/**
 * Bytes `[offset, offset + length)` of one blob version (Get Blob with a range and If-Match).
 * https://learn.microsoft.com/en-us/rest/api/storageservices/get-blob
 */
export async function getBlobRange(
  env: Env,
  cfg: AzureContainer,
  blob: string,
  etag: string,
  range: { offset: number; length: number },
  opts: DeliveryOptions = {},
): Promise<Uint8Array> {
  await checkTargetHost(env, new URL(cfg.endpoint).hostname);
  const h = headers({ range: `bytes=${range.offset}-${range.offset + range.length - 1}`, "if-match": `"${etag}"` });
  return requestWithRetryAs("Get Blob", (signal) => fetch(blobUrl(cfg, blob), { headers: h, signal }), readClassify(cfg, "Get Blob", blob), opts, async (res) => rangeBody(res, range),
  );
}

/** The whole blob version as a stream (for gzip). */
export async function getBlobStream(env: Env, cfg: AzureContainer, blob: string, etag: string, opts: DeliveryOptions = {}): Promise<ReadableStream<Uint8Array>> {
  await checkTargetHost(env, new URL(cfg.endpoint).hostname);
  const h = headers({ "if-match": `"${etag}"` });
  return requestWithRetryAs("Get Blob", (signal) => fetch(blobUrl(cfg, blob), { headers: h, signal }), readClassify(cfg, "Get Blob", blob), opts, async (res) => {
    if (!res.body) throw new TargetError("refused", `Get Blob ${blob} answered without a body`);
    return res.body;
  });
}
