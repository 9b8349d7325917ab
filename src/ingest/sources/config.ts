/**
 * Source configurations: an S3-compatible bucket or an Azure Blob container, read with the
 * delivery drivers' clients (src/targets). The secret fields are those of the target of the
 * same type (SECRET_FIELDS), so sealTarget / unsealTarget / maskTarget apply unchanged.
 */
import { z } from "zod";
import { AzureTarget, S3Target } from "../../targets/config";

const Prefix = z
  .string()
  .max(512)
  .refine((s) => !s.split("/").includes(".."), "prefix: must not contain '..' segments")
  .transform((s) => s.replace(/^\/+/, ""))
  .default("")
  .describe("folder inside the bucket holding the data-type folders (purchases/, logins/, ...); empty for the bucket root");

export const S3Source = S3Target.pick({
  type: true,
  endpoint: true,
  region: true,
  bucket: true,
  access_key_id: true,
  secret_access_key: true,
  session_token: true,
  path_style: true,
}).extend({ prefix: Prefix });
export type S3Source = z.infer<typeof S3Source>;

export const AzureSource = AzureTarget.pick({ type: true, endpoint: true, container: true })
  .extend({
    /** a SAS token with read and list permission on the container */
    sas_token: z
      .string()
      .min(1, "sas_token is required")
      .max(16_384)
      .refine((s) => /(^|[?&])sig=/.test(s), "sas_token: must be a SAS query string containing sig="),
    prefix: Prefix,
  });
export type AzureSource = z.infer<typeof AzureSource>;

export const SourceConfig = z.discriminatedUnion("type", [S3Source, AzureSource]);
export type SourceConfig = z.infer<typeof SourceConfig>;
