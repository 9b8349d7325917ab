/**
 * Azure Blob Storage with a SAS token, over fetch: Put Blob for files up to one block,
 * Put Block + Put Block List above that (blocks read from R2 by range).
 * https://learn.microsoft.com/en-us/rest/api/storageservices/put-blob
 * https://learn.microsoft.com/en-us/rest/api/storageservices/put-block
 * https://learn.microsoft.com/en-us/rest/api/storageservices/put-block-list
 *
 * Verified only against the loopback stand-in in test/servers/azure.ts, not against Azure.
 */
import type { AzureTarget } from "./config";
import { checkTargetHost } from "./hosts";
import { type HttpFailure, choosePartSize, partRanges, requestWithRetry } from "./http";
import { type DeliveryOptions, type TargetDriver, TargetError, expandTemplate, readFile } from "./types";

const API_VERSION = "2023-11-03";
const TRANSIENT_CODES = new Set(["ServerBusy", "InternalError", "OperationTimedOut"]);

function classify(cfg: AzureTarget, what: string) {
  return (f: HttpFailure): TargetError => {
    const detail = `${what} in container '${cfg.container}' failed: ${f.status} ${f.code}${f.message ? ` (${f.message})` : ""}`;
    if (f.code === "ContainerNotFound") return new TargetError("not_found", `container '${cfg.container}' does not exist at ${cfg.endpoint}`);
    if (f.status === 403 || f.code === "AuthenticationFailed" || f.code === "AuthorizationPermissionMismatch") {
      return new TargetError("auth", `${detail}; check that the SAS token is valid, unexpired and grants create and write`);
    }
    if (f.status >= 500 || f.status === 429 || TRANSIENT_CODES.has(f.code)) return new TargetError("transient", detail);
    if (f.status === 404) return new TargetError("not_found", detail);
    return new TargetError("refused", detail);
  };
}

function blobUrl(cfg: AzureTarget, blob: string, query = ""): string {
  const base = cfg.endpoint.replace(/\/+$/, "");
  const sas = cfg.sas_token.replace(/^\?/, "");
  const name = blob.split("/").map(encodeURIComponent).join("/");
  return `${base}/${cfg.container}/${name}?${query ? `${query}&` : ""}${sas}`;
}

/** Block ids must all have the same length within a blob (before base64). */
const blockId = (i: number) => btoa(`ferry-block-${String(i).padStart(6, "0")}`);

const headers = (extra: Record<string, string> = {}) => ({ "x-ms-version": API_VERSION, ...extra });

export const azureDriver: TargetDriver<AzureTarget> = {
  async test(env, cfg, opts = {}) {
    await checkTargetHost(env, new URL(cfg.endpoint).hostname);
    // Stage one uncommitted block: proves the SAS may write to the container, and
    // leaves nothing visible (uncommitted blocks are discarded after a week).
    const url = blobUrl(cfg, ".ferry-connection-test", `comp=block&blockid=${encodeURIComponent(blockId(0))}`);
    await requestWithRetry("Put Block", (signal) => fetch(url, { method: "PUT", body: "ferry", headers: headers(), signal }), classify(cfg, "Put Block"), opts);
  },

  async deliver(env, cfg, file, ctx, opts: DeliveryOptions = {}) {
    await checkTargetHost(env, new URL(cfg.endpoint).hostname);
    const blob = expandTemplate(cfg.blob, file, ctx).replace(/^\/+/, "");
    const location = `${cfg.endpoint.replace(/\/+$/, "")}/${cfg.container}/${blob}`;
    const blockSize = choosePartSize(file.size, cfg.block_size_mb);
    const contentType = { "x-ms-blob-content-type": file.contentType };

    if (file.size <= blockSize) {
      const body = await (await readFile(env, file.key)).arrayBuffer();
      await requestWithRetry(
        "Put Blob",
        (signal) => fetch(blobUrl(cfg, blob), { method: "PUT", body, headers: headers({ "x-ms-blob-type": "BlockBlob", ...contentType }), signal }),
        classify(cfg, "Put Blob"),
        opts,
      );
      return { location };
    }

    const ids: string[] = [];
    for (const [i, range] of partRanges(file.size, blockSize).entries()) {
      const body = await (await readFile(env, file.key, range)).arrayBuffer();
      const id = blockId(i + 1);
      await requestWithRetry(
        `Put Block ${i + 1}`,
        (signal) => fetch(blobUrl(cfg, blob, `comp=block&blockid=${encodeURIComponent(id)}`), { method: "PUT", body, headers: headers(), signal }),
        classify(cfg, `Put Block ${i + 1}`),
        opts,
      );
      ids.push(id);
    }
    const xml = `<?xml version="1.0" encoding="utf-8"?><BlockList>${ids.map((id) => `<Latest>${id}</Latest>`).join("")}</BlockList>`;
    await requestWithRetry(
      "Put Block List",
      (signal) => fetch(blobUrl(cfg, blob, "comp=blocklist"), { method: "PUT", body: xml, headers: headers({ "content-type": "application/xml", ...contentType }), signal }),
      classify(cfg, "Put Block List"),
      opts,
    );
    return { location };
  },
};
