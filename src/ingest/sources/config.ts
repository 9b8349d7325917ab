/**
 * Source configurations: an S3-compatible bucket, an Azure Blob container or a GCS bucket, read with the
 * delivery drivers' clients (src/targets). They pick their fields from the targets' schemas, so
 * the secret marks come along (src/lib/secrets.ts seals, masks and unseals by walking these).
 */
import * as z from "zod";
import { secret } from "../../lib/secrets";
import { AzureTarget, GcsTarget, S3Target } from "../../targets/config";

const Prefix = z
  .string()
  .max(512)
  .refine((s) => !s.split("/").includes(".."), "prefix: must not contain '..' segments")
  .transform((s) => s.replace(/^\/+/, ""))
  .default("")
  .describe("folder inside the bucket holding the data-type folders (purchases/, logins/, ...); empty for the bucket root");

/**
 * Decryption of `.gpg` / `.pgp` files (src/ingest/sources/decrypt.ts): the ASCII-armored OpenPGP
 * private key (`gpg --armor --export-secret-keys <id>`) whose public key the sender encrypts to,
 * and its passphrase when it has one. Both sealed at rest, never shown.
 */
const Decryption = {
  decryption_key: secret(
    z
      .string()
      .max(100_000)
      .refine((s) => s.includes("-----BEGIN PGP PRIVATE KEY BLOCK-----"), "decryption_key: paste an ASCII-armored OpenPGP private key (gpg --armor --export-secret-keys <id>)"),
  ).optional(),
  decryption_passphrase: secret(z.string().min(1).max(1024)).optional(),
};

export const S3Source = S3Target.pick({
  type: true,
  endpoint: true,
  region: true,
  bucket: true,
  access_key_id: true,
  secret_access_key: true,
  session_token: true,
  path_style: true,
}).extend({ prefix: Prefix, ...Decryption });
export type S3Source = z.infer<typeof S3Source>;

/** `sas_token`: a SAS token with read and list permission on the container. */
export const AzureSource = AzureTarget.pick({ type: true, endpoint: true, container: true, sas_token: true }).extend({ prefix: Prefix, ...Decryption });
export type AzureSource = z.infer<typeof AzureSource>;

/** `service_account`: a key whose account may list and read the bucket's objects (roles/storage.objectViewer). */
export const GcsSource = GcsTarget.pick({ type: true, bucket: true, service_account: true, endpoint: true }).extend({ prefix: Prefix, ...Decryption });
export type GcsSource = z.infer<typeof GcsSource>;

export const SourceConfig = z.discriminatedUnion("type", [S3Source, AzureSource, GcsSource]);
export type SourceConfig = z.infer<typeof SourceConfig>;

/**
 * A source's signed webhooks: `webhook_secret` is their HMAC key, stored sealed in its own
 * column (sources.webhook_secret) and never shown.
 */
export const SourceWebhook = z.object({
  webhook_url: z.url({ protocol: /^https?$/, error: "webhook_url: an http(s) URL" }).max(2048),
  webhook_secret: secret(z.string().min(16, "webhook_secret: at least 16 characters").max(256)),
});

/** What a new source is made of (POST /api/1/sources); both webhook fields or neither. */
export const NewSource = z
  .object({ name: z.string().trim().min(1).max(200), config: SourceConfig })
  .extend(SourceWebhook.partial().shape)
  .refine((b) => !b.webhook_url === !b.webhook_secret, { message: "webhook_url and webhook_secret go together", path: ["webhook_secret"] });
export type NewSource = z.infer<typeof NewSource>;
