import { getChainForTenant } from "../db/chains";
import type { RunRow } from "../db/schema";
import { isoSeconds } from "../lib/time";
import type { Services } from "../services";
import { type RunEvent, runEvent } from "./webhook";

/*
 * What the API shows of a run's email, apart from the sending (./email.ts), so that the API
 * worker does not bundle the SMTP client (docs/architecture.md, "Two workers").
 */

/** The public origin links in emails start with (PUBLIC_URL), without a trailing slash. */
export function publicOrigin(s: Services): string {
  return (s.env.PUBLIC_URL ?? "http://localhost:8787").replace(/\/+$/, "");
}

/** The run's email as the API shows it: null when the definition sends none (or not yet due). */
export async function emailView(s: Services, run: RunRow): Promise<{ status: "sending" | "sent" | "failed"; error: string | null; sent_at: string | null } | null> {
  if (run.status !== "finished" && run.status !== "failed") return null;
  const event: RunEvent = run.status === "finished" ? "export.run.finished" : "export.run.failed";
  const chain = await getChainForTenant(s.db, run.tenant_id, "email", runEvent(run.id, event));
  if (!chain) return null;
  const status = chain.status === "done" ? "sent" : chain.status === "failed" ? "failed" : "sending";
  return { status, error: chain.last_error, sent_at: status === "sent" ? isoSeconds(chain.finished_at) : null };
}
