import { SELF } from "cloudflare:test";
import { BASE, call, waitFor } from "../helpers";

/** Pushes records of one model with an API key; answers the /v1 response. */
export const push = (apiKey: string, model: string, records: unknown[]) => call("POST", `/v1/records/${model}`, { token: apiKey, body: { [model]: records } });

/**
 * Creates an export (manual schedule), runs it through the real queue, waits for it to end and
 * answers the downloaded file as text (or the run, when it did not finish).
 */
export async function exportAndRead(token: string, body: Record<string, unknown>): Promise<string> {
  const created = await call("POST", "/api/1/exports", { token, body: { schedule: { type: "manual" }, format: { type: "csv" }, ...body } });
  if (created.status !== 201) throw new Error(`create export: ${created.status} ${created.text}`);
  const started = await call("POST", `/api/1/exports/${created.json.id}/runs`, { token });
  if (started.status !== 202) throw new Error(`start run: ${started.status} ${started.text}`);
  const run = await waitFor(async () => {
    const got = (await call("GET", `/api/1/exports/${created.json.id}/runs/${started.json.id}`, { token })).json;
    return got.status === "pending" || got.status === "processing" ? undefined : got;
  }, "the run to end", 3000);
  if (run.status !== "finished") throw new Error(`run ${run.status}: ${run.error}`);
  const u = new URL(run.download_url);
  const res = await SELF.fetch(`${BASE}${u.pathname}${u.search}`);
  if (res.status !== 200) throw new Error(`download: ${res.status}`);
  return res.text();
}
