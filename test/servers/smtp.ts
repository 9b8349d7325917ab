/**
 * An SMTP relay on loopback for the email notification tests: the `smtp-server` package, with
 * STARTTLS (the test certificate workerd trusts, see tls.ts) and AUTH required. It refuses what
 * a real relay refuses: a wrong password (535), AUTH before STARTTLS, mail without AUTH. Every
 * accepted message is parsed (mailparser) and kept for the tests to read back.
 */
import type { AddressInfo } from "node:net";
import { simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";

export interface ReceivedMail {
  /** envelope */
  mail_from: string;
  rcpt_to: string[];
  /** headers and body as parsed */
  from: string;
  to: string;
  subject: string;
  text: string;
  message_id: string | null;
  /** the authenticated user */
  user: string;
  /** whether the session was upgraded with STARTTLS before AUTH */
  tls: boolean;
}

export async function startSmtp(opts: { user: string; password: string; key: string; cert: string }) {
  const received: ReceivedMail[] = [];
  const server = new SMTPServer({
    key: opts.key,
    cert: opts.cert,
    authMethods: ["PLAIN", "LOGIN"],
    authOptional: false,
    allowInsecureAuth: false,
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === opts.user && auth.password === opts.password) return cb(null, { user: auth.username });
      const err = Object.assign(new Error("Invalid username or password"), { responseCode: 535 });
      return cb(err);
    },
    onData(stream, session, cb) {
      simpleParser(stream).then(
        (m) => {
          received.push({
            mail_from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
            rcpt_to: session.envelope.rcptTo.map((r) => r.address),
            from: m.from?.text ?? "",
            to: (Array.isArray(m.to) ? m.to.map((a) => a.text).join(", ") : m.to?.text) ?? "",
            subject: m.subject ?? "",
            text: m.text ?? "",
            message_id: m.messageId ?? null,
            user: String(session.user ?? ""),
            tls: session.secure,
          });
          cb();
        },
        (err) => cb(err),
      );
    },
  });
  server.on("error", () => {});
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.server.address() as AddressInfo).port,
    /** messages one recipient received */
    mailTo: (rcpt: string) => received.filter((m) => m.rcpt_to.includes(rcpt)),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
