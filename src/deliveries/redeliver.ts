import { restart, startChainNow } from "../chain";
import { getChainForTenant } from "../db/chains";
import { getDelivery, resetForRedelivery } from "../db/deliveries";
import { getExportRow } from "../db/exports";
import { getRun } from "../db/runs";
import { ApiError, notFound } from "../lib/errors";
import { newId } from "../lib/ids";
import type { Services } from "../services";
import { TargetError } from "../targets/types";
import { resolveTarget, snapshotTarget } from "./target";
import { type DeliveryView, deliveryView } from "./view";

/**
 * A person asks for a run's file to be delivered again (after fixing what made it fail): the
 * delivery starts over from the beginning with fresh state, to the export definition's CURRENT
 * target, since a definition is edited exactly to fix the credentials or the path, while the
 * run's snapshot keeps the target it was made with. Any upload the failed delivery left is
 * aborted first. Refused (409) while the delivery runs, once it is delivered, and for a run
 * without a finished file.
 */
export async function redeliver(s: Services, tenantId: string, exportId: string, runId: string): Promise<DeliveryView> {
  const run = await getRun(s.db, tenantId, runId);
  if (!run || run.export_id !== exportId) throw notFound("Run");
  if (run.status !== "finished") throw new ApiError("conflict", `Run ${run.id} is ${run.status}; only a finished run's file can be delivered`);
  if (run.expired_at !== null) throw new ApiError("conflict", `The file of run ${run.id} was deleted after its retention; start a new run`);

  const [row, chain] = await Promise.all([getDelivery(s.db, tenantId, runId), getChainForTenant(s.db, tenantId, "delivery", runId)]);
  if (row?.status === "delivered") {
    throw new ApiError("conflict", `Run ${run.id} was delivered to ${row.location ?? "its target"}; start a new run to deliver again`);
  }
  if (chain?.status === "running" || (row && row.status !== "failed")) {
    throw new ApiError("conflict", `The delivery of run ${run.id} is still running (${row?.status ?? "pending"}); wait until it is delivered or failed`);
  }

  const exp = await getExportRow(s.db, tenantId, exportId);
  if (!exp) throw new ApiError("conflict", `Export ${exportId} was deleted; its runs cannot be delivered again`);
  const sealed = snapshotTarget({ definition: exp.definition });
  if (!sealed) throw new ApiError("conflict", `Export ${exportId} now has the download target: there is nothing to push`);
  let target: Awaited<ReturnType<typeof resolveTarget>>;
  try {
    target = await resolveTarget(s, sealed);
  } catch (err) {
    if (err instanceof TargetError) throw new ApiError("unprocessable", `The export's target cannot be used: ${err.message}`);
    throw err;
  }

  // Parts of the failed upload are dropped with the target they were sent to (billed until then on S3).
  await s.toolbox.abortDelivery(tenantId, runId);
  const reset = await resetForRedelivery(
    s.db,
    { id: row?.id ?? newId("dlv"), tenantId, runId, targetType: target.type, target: target.sealed },
    row,
    s.clock.seconds(),
  );
  if (!reset) throw new ApiError("conflict", `The delivery of run ${run.id} changed meanwhile (another redelivery?); read the run again`);
  if (chain) {
    // Not running (checked above), so only a concurrent request could have restarted it first.
    if (!(await restart(s, "delivery", runId))) throw new ApiError("conflict", `The delivery of run ${run.id} was restarted by another request`);
  } else {
    await startChainNow(s, { kind: "delivery", tenantId, subjectId: runId });
  }
  return (await deliveryView(s, tenantId, runId))!;
}
