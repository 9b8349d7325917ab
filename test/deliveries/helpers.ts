import { type ChainJobs, type ChainMessage, handleChainMessage } from "../../src/chain";
import { getChainUnscoped } from "../../src/db/chains";
import { type DeliveryJobOptions, deliveryJob } from "../../src/deliveries/job";
import type { JobMessage } from "../../src/jobs/messages";
import { createServices, fixedClock } from "../../src/services";
import { sealSecrets } from "../../src/lib/secrets";
import { DeliveryTarget } from "../../src/targets/config";
import { onlyJobs } from "../chain/jobs";
import { e, unique } from "../targets/helpers";

/** Driver options for tests: short backoff, timeouts long enough never to fire by accident. */
export const fastDriver = { backoffMs: 20, attempts: 2, timeoutMs: 20_000 };

/**
 * Services whose queue is an in-memory list and whose clock stands still, so a test decides
 * which chain message is delivered, which is "lost", and when leases run out.
 */
export function harness(jobOpts: DeliveryJobOptions = { driver: fastDriver }) {
  const sent: { msg: JobMessage; delaySeconds?: number }[] = [];
  const clock = fixedClock(Date.now());
  const s = createServices(e, { clock, jobs: { send: async (msg, o) => void sent.push({ msg, ...(o?.delaySeconds ? { delaySeconds: o.delaySeconds } : {}) }) } });
  const jobs: ChainJobs = onlyJobs({ delivery: deliveryJob(jobOpts) });
  /** Takes the sent messages of one chain (other tests' chains may be swept into the same list). */
  const take = (runId: string) => {
    const mine = sent.filter((x) => x.msg.type === "chain" && x.msg.chain_id === `delivery:${runId}`);
    for (const m of mine) sent.splice(sent.indexOf(m), 1);
    return mine.map((x) => x.msg as ChainMessage);
  };
  /** Delivers the chain's messages one by one until none is left; returns how many links ran. */
  const drive = async (runId: string, opts: { max?: number } = {}) => {
    let links = 0;
    for (let batch = take(runId); batch.length; batch = take(runId)) {
      for (const m of batch) {
        await handleChainMessage(s, jobs, m);
        if (++links > (opts.max ?? 200)) throw new Error("delivery chain does not end");
      }
    }
    return links;
  };
  /** Like drive, but stops at the first message `stop` picks and answers it (taken, not handled). */
  const driveUntil = async (runId: string, stop: (m: ChainMessage) => boolean): Promise<ChainMessage> => {
    for (let batch = take(runId); batch.length; batch = take(runId)) {
      for (const m of batch) {
        if (stop(m)) return m;
        await handleChainMessage(s, jobs, m);
      }
    }
    throw new Error("the chain ended before the message the test waits for");
  };
  const chain = (runId: string) => getChainUnscoped(s.db, `delivery:${runId}`);
  return { s, clock, sent, jobs, take, drive, driveUntil, chain };
}

/** A finished run whose file sits in R2, with the target sealed in the run's definition snapshot. */
export async function finishedRun(tenantId: string, target: Record<string, unknown>, data: Uint8Array, exportName = "win-info") {
  const now = Math.floor(Date.parse("2026-11-20T10:00:00Z") / 1000);
  const exportId = `exp_${unique("t")}`;
  const runId = `run_${unique("t")}`;
  const definition = JSON.stringify({ name: exportName, model: "participations", target: await sealSecrets(createServices(e).secrets, DeliveryTarget, target) });
  const key = `exports/${tenantId}/${runId}/win-info.csv`;
  await e.FILES.put(key, data);
  await e.DB.batch([
    e.DB.prepare("INSERT INTO exports (id, tenant_id, name, model, status, definition, created_by, created_at, updated_at) VALUES (?, ?, ?, 'participations', 'active', ?, 'test', ?, ?)").bind(exportId, tenantId, exportName, definition, now, now),
    e.DB.prepare(
      "INSERT INTO export_runs (id, tenant_id, export_id, status, definition, rows, bytes, file_key, file_name, content_type, created_at, finished_at) VALUES (?, ?, ?, 'finished', ?, 10, ?, ?, 'win-info.csv', 'text/csv', ?, ?)",
    ).bind(runId, tenantId, exportId, definition, data.length, key, now, now),
  ]);
  return { runId, exportId, definition, key };
}
