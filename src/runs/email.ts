import { LogLevel, WorkerMailer } from "worker-mailer";
import type { ChainJob, StepOutcome } from "../chain";
import type { RunRow } from "../db/schema";
import { type EmailNotification, type ExportBody, Notification } from "../exports/definition";
import { unsealSecrets } from "../lib/secrets";
import { isoSeconds } from "../lib/time";
import type { Services } from "../services";
import { checkTargetHost } from "../targets/hosts";
import { downloadUrl } from "./downloads";
import { publicOrigin } from "./email-view";
import { loadRunEvent, type RunEvent } from "./webhook";

/**
 * Email notifications: a finished run mails its signed download link (src/runs/downloads.ts),
 * a failed one its reason, to `notification.email.to`, through the definition's SMTP relay.
 * Like the webhook, each is an `email` chain (subject `<run_id>.<event>`) whose row is written
 * in the batch that finishes or fails the run (src/runs/job.ts), so it cannot be lost.
 *
 * SMTP goes over a TCP socket from the Worker (`cloudflare:sockets`, through the worker-mailer
 * client): https://developers.cloudflare.com/workers/runtime-apis/tcp-sockets/ . Outbound port
 * 25 is blocked there, so a relay listens on 465 (TLS) or 587 (STARTTLS).
 */

/** How long one SMTP connection or reply may take before the attempt is retried. */
const SMTP_TIMEOUT_MS = 15_000;

/** The mail a run event sends: subject and plain text. */
export async function runEmail(s: Services, def: ExportBody, run: RunRow, event: RunEvent): Promise<{ subject: string; text: string }> {
  if (event === "export.run.failed") {
    return {
      subject: `Export ${def.name} failed`,
      text: [
        `The export "${def.name}" (${run.export_id}) failed.`,
        "",
        `Reason: ${run.error ?? "unknown"}`,
        "",
        `Run: ${run.id}, started ${isoSeconds(run.created_at)}.`,
        `See it at ${publicOrigin(s)}/api/1/exports/${run.export_id}/runs/${run.id}`,
      ].join("\n"),
    };
  }
  const url = await downloadUrl(s, publicOrigin(s), run);
  const where =
    def.target.type === "download"
      ? url
        ? [`Download it (the link works without signing in until ${isoSeconds(Number(new URL(url).searchParams.get("expires")))}):`, url]
        : ["Its file is no longer available."]
      : [`It is being delivered to the ${def.target.type} target.`, ...(url ? ["It can also be downloaded here:", url] : [])];
  return {
    subject: `Export ${def.name} is ready`,
    text: [
      `The export "${def.name}" (${run.export_id}) finished: ${run.rows} rows, ${run.bytes} bytes, file ${run.file_name ?? ""}.`,
      "",
      ...where,
      "",
      `SHA-256: ${run.sha256 ?? ""}`,
      `The file is kept until ${isoSeconds(run.expires_at) ?? "its retention ends"}.`,
    ].join("\n"),
  };
}

export class SmtpError extends Error {
  constructor(
    message: string,
    /** false for a 5xx reply (bad password, refused recipient): sending again cannot help */
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** Sends one plain-text mail through the relay; throws SmtpError with the server's reply. */
export async function sendMail(relay: EmailNotification["relay"], mail: { to: string[]; subject: string; text: string; headers: Record<string, string> }): Promise<void> {
  const where = `SMTP relay ${relay.host}:${relay.port}`;
  try {
    await WorkerMailer.send(
      {
        host: relay.host,
        port: relay.port,
        secure: relay.security === "tls",
        startTls: relay.security === "starttls",
        credentials: { username: relay.username, password: relay.password },
        authType: ["plain", "login"],
        logLevel: LogLevel.WARN,
        socketTimeoutMs: SMTP_TIMEOUT_MS,
        responseTimeoutMs: SMTP_TIMEOUT_MS,
      },
      { from: relay.from, to: mail.to, subject: mail.subject, text: mail.text, headers: mail.headers },
    );
  } catch (err) {
    const message = (err instanceof Error ? err.message : String(err)).trim();
    // An SMTP reply code: 5xx is permanent (RFC 5321 section 4.2.1), 4xx and the rest retry.
    const code = /\b([245])\d\d\b/.exec(message)?.[1];
    const hint = /auth/i.test(message) && code === "5" ? " (check notification.email.relay.username and password)" : "";
    throw new SmtpError(`${where}: ${message}${hint}`, code !== "5");
  }
}

/**
 * The `email` chain job: one step that renders the mail and sends it. A permanent refusal
 * (a 5xx reply: wrong password, refused sender or recipient) ends the chain as failed with the
 * server's reply, which the run shows (`email` in src/runs/view.ts); anything else throws and
 * the chain retries with backoff.
 */
export const emailJob: ChainJob = {
  async step({ services: s, chain }): Promise<StepOutcome> {
    const loaded = await loadRunEvent(s, chain);
    if ("outcome" in loaded) return loaded.outcome;
    const { run, def, event } = loaded;
    if (!def.notification?.email) return { done: true };
    const { email } = await unsealSecrets(s.secrets, Notification, def.notification);
    if (!email) return { done: true };
    try {
      await checkTargetHost(s.env, email.relay.host);
    } catch (err) {
      return { failed: `refused SMTP relay host: ${(err as Error).message}` };
    }
    const mail = await runEmail(s, def, run, event);
    try {
      await sendMail(email.relay, {
        to: email.to,
        ...mail,
        headers: {
          Date: new Date(s.clock.now()).toUTCString(),
          // The same id on every attempt: a receiver can drop a duplicate of an at-least-once send.
          "Message-ID": `<${chain.subject_id}@ferry>`,
          "Ferry-Event": event,
        },
      });
    } catch (err) {
      if (err instanceof SmtpError && !err.retryable) return { failed: err.message };
      throw err;
    }
    return { done: true };
  },
  async giveUp(_s, chain, reason) {
    // The chain row (status failed, last_error) is the record, shown on the run.
    console.error(JSON.stringify({ email: chain.subject_id, gave_up: reason }));
  },
};
