/**
 * Delivery target configurations (the `target` of an export definition). Every secret field is
 * marked `secret(...)` here, once: src/lib/secrets.ts seals it at rest (`v1.<iv>.<ct>`), masks
 * it as `"****"` in responses, keeps the stored value when an update sends `"****"` back, and
 * unseals it for the drivers, all by walking these schemas. A marked field's own rules (length,
 * an Azure SAS's `sig=`) apply to the plain value a client sends, never to the sealed one, so a
 * stored definition parses again.
 */
import * as z from "zod";
import { secret } from "../lib/secrets";

const Host = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9.:\-\[\]]+$/, "host: a DNS name or an IP address, without scheme or port");
/** CR/LF and other control characters would let a value smuggle commands into FTP. */
const NO_CONTROL = /^[^\u0000-\u001f\u007f]*$/;
const Template = (dflt: string) =>
  z
    .string()
    .min(1)
    .max(1024)
    .regex(NO_CONTROL, "must not contain control characters")
    .refine((s) => !s.split("/").includes(".."), "must not contain '..' segments")
    .default(dflt)
    .describe("may use {name} (file name), {date} (YYYY-MM-DD), {run_id}, {export} and {ext} (csv, txt.gz, ...)");

/**
 * The default key / path / blob: a name of its own for every run (the reference's "unique
 * automatic file names"), so a run never overwrites the file of the one before. Definitions
 * stored with a template (the default `{name}` of earlier versions included) keep theirs.
 */
export const UNIQUE_FILE_NAME = "{export}_{date}_{run_id}.{ext}";
/** A required secret's plain value (wrap it in `secret(...)` last: a check added after the mark would drop it). */
const Required = (what: string) => z.string().min(1, `${what} is required`).max(16_384);

export const S3Target = z.strictObject({
  type: z.literal("s3"),
  /** e.g. https://s3.eu-west-1.amazonaws.com, https://<account>.r2.cloudflarestorage.com, https://storage.googleapis.com */
  endpoint: z.url({ protocol: /^https?$/, error: "endpoint: an http(s) URL such as https://s3.us-east-1.amazonaws.com" }),
  region: z.string().min(1).max(64).default("us-east-1"),
  bucket: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.\-_]{1,253}[a-z0-9]$/, "bucket: 3-255 lower-case letters, digits, '.', '-' or '_'"),
  access_key_id: z.string().min(1).max(256),
  secret_access_key: secret(Required("secret_access_key")),
  session_token: secret(z.string().max(16_384)).optional(),
  /** true: https://endpoint/bucket/key; false: https://bucket.endpoint/key */
  path_style: z.boolean().default(true),
  key: Template(UNIQUE_FILE_NAME),
  /** multipart part size; S3 wants >= 5 MiB for every part but the last */
  part_size_mb: z.number().int().min(5).max(1024).default(8),
});
export type S3Target = z.infer<typeof S3Target>;

const FtpBase = {
  host: Host,
  /** default 21, or 990 for implicit TLS (see ftpPort) */
  port: z.number().int().min(1).max(65535).optional(),
  username: z.string().min(1).max(256).regex(NO_CONTROL, "username: must not contain control characters"),
  password: secret(Required("password").regex(NO_CONTROL, "password: must not contain control characters")),
  path: Template(`/${UNIQUE_FILE_NAME}`),
};
export const PlainFtpTarget = z.strictObject({ type: z.literal("ftp"), ...FtpBase });
/**
 * FTP over TLS; the data channel is encrypted too (PROT P). `tls: "explicit"` (the default, so
 * definitions stored before the option keep their meaning): AUTH TLS on the plain port, RFC 4217.
 * `tls: "implicit"`: TLS from the first byte, conventionally on port 990.
 */
export const FtpsTarget = z.strictObject({
  type: z.literal("ftps"),
  ...FtpBase,
  tls: z.enum(["explicit", "implicit"]).default("explicit").describe("explicit: AUTH TLS on port 21; implicit: TLS from the first byte, port 990"),
});
export const FtpTarget = z.discriminatedUnion("type", [PlainFtpTarget, FtpsTarget]);
export type FtpTarget = z.infer<typeof FtpTarget>;

/** How the control connection is secured: none (ftp), explicit (AUTH TLS) or implicit. */
export const ftpTls = (cfg: FtpTarget): "none" | "explicit" | "implicit" => (cfg.type === "ftps" ? cfg.tls : "none");
/** The port given, else the protocol's default: 990 for implicit FTPS (RFC 4217 section 15's ftps), 21 otherwise. */
export const ftpPort = (cfg: FtpTarget): number => cfg.port ?? (ftpTls(cfg) === "implicit" ? 990 : 21);

export const SftpTarget = z
  .object({
    type: z.literal("sftp"),
    host: Host,
    port: z.number().int().min(1).max(65535).default(22),
    username: z.string().min(1).max(256),
    password: secret(z.string().min(1).max(1024)).optional(),
    /** OpenSSH or PEM private key (ed25519, ecdsa, rsa) */
    private_key: secret(z.string().min(1).max(16_384)).optional(),
    passphrase: secret(z.string().max(1024)).optional(),
    /** optional pin: SHA-256 of the server's host key, base64 as `ssh-keygen -l` prints it (without "SHA256:") */
    host_key_sha256: z.string().max(128).optional(),
    path: Template(`/${UNIQUE_FILE_NAME}`),
  })
  .refine((t) => t.password !== undefined || t.private_key !== undefined, {
    message: "sftp needs a password or a private_key",
    path: ["password"],
  });
export type SftpTarget = z.infer<typeof SftpTarget>;

export const AzureTarget = z.strictObject({
  type: z.literal("azure"),
  /** the account's blob endpoint, e.g. https://myaccount.blob.core.windows.net */
  endpoint: z.url({ protocol: /^https?$/, error: "endpoint: the blob service URL, e.g. https://myaccount.blob.core.windows.net" }),
  container: z.string().regex(/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/, "container: 3-63 lower-case letters, digits and single hyphens"),
  /** a SAS token with create+write permission on the container (with or without the leading '?') */
  sas_token: secret(Required("sas_token").refine((s) => /(^|[?&])sig=/.test(s), "sas_token: must be a SAS query string containing sig=")),
  blob: Template(UNIQUE_FILE_NAME),
  block_size_mb: z.number().int().min(1).max(4000).default(8),
});
export type AzureTarget = z.infer<typeof AzureTarget>;

/**
 * A Google service-account key file, pasted as it is (the fields ferry does not use, such as
 * client_id or auth_uri, are dropped). Only `private_key` is secret.
 * https://cloud.google.com/iam/docs/keys-create-delete
 */
export const ServiceAccountKey = z.object({
  type: z.literal("service_account", { error: "service_account.type: must be \"service_account\" (a service-account key file)" }),
  project_id: z.string().max(256).optional(),
  private_key_id: z.string().min(1, "service_account.private_key_id is required").max(256),
  /** PKCS#8 PEM, as Google writes it into the key file */
  private_key: secret(
    Required("private_key").refine((s) => s.includes("-----BEGIN PRIVATE KEY-----"), "private_key: a PKCS#8 PEM key (-----BEGIN PRIVATE KEY-----), as in the key file"),
  ),
  client_email: z.string().min(3).max(320).regex(/^[^@\s]+@[^@\s]+$/, "service_account.client_email: the service account's e-mail address"),
  token_uri: z.url({ protocol: /^https?$/, error: "service_account.token_uri: an http(s) URL" }).default("https://oauth2.googleapis.com/token"),
});
export type ServiceAccountKey = z.infer<typeof ServiceAccountKey>;

/** GCS bucket names: https://cloud.google.com/storage/docs/buckets#naming */
const GcsBucket = z.string().regex(/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/, "bucket: 3-222 lower-case letters, digits, '.', '-' or '_'");

export const GcsTarget = z.strictObject({
  type: z.literal("gcs"),
  bucket: GcsBucket,
  service_account: ServiceAccountKey,
  object: Template(UNIQUE_FILE_NAME),
  /** chunk of the resumable upload; whole MiB, so always a multiple of 256 KiB (src/targets/gcs.ts) */
  chunk_size_mb: z.number().int().min(1).max(1024).default(8),
  /** the JSON API's base URL; only tests and private deployments change it */
  endpoint: z.url({ protocol: /^https?$/, error: "endpoint: an http(s) URL such as https://storage.googleapis.com" }).default("https://storage.googleapis.com"),
});
export type GcsTarget = z.infer<typeof GcsTarget>;

/** Every target that pushes the file somewhere (everything but `download`). */
export const DeliveryTarget = z.discriminatedUnion("type", [S3Target, PlainFtpTarget, FtpsTarget, SftpTarget, AzureTarget, GcsTarget]);
export type DeliveryTarget = z.infer<typeof DeliveryTarget>;
