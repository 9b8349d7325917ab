import { describe, expect, it } from "vitest";
import { ExportBody } from "../../src/exports/definition";
import { NewSource, SourceConfig } from "../../src/ingest/sources/config";
import { MASK, maskSecrets, sealSecrets, unsealSecrets } from "../../src/lib/secrets";
import { createServices } from "../../src/services";
import { DeliveryTarget, FtpTarget, S3Target, SftpTarget } from "../../src/targets/config";
import { s3Driver } from "../../src/targets/s3";
import { TargetError } from "../../src/targets/types";
import { control, e, servers } from "./helpers";

const s3 = () =>
  S3Target.parse({
    type: "s3",
    endpoint: "https://s3.eu-west-1.amazonaws.com",
    bucket: "acme-exports",
    access_key_id: "AKIAEXAMPLE",
    secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  });

/** Targets are sealed, unsealed and masked by walking their schema (src/lib/secrets.ts). */
const box = createServices(e).secrets;
const Target = ExportBody.shape.target;
const sealTarget = <T,>(t: T, previous?: unknown) => sealSecrets(box, DeliveryTarget, t, previous);
const unsealTarget = <T,>(t: T) => unsealSecrets(box, DeliveryTarget, t);
const maskTarget = <T,>(t: T) => maskSecrets(Target, t);

describe("target config: validation, sealing, masking", () => {
  it("export definitions default to the download target and accept every push target", () => {
    expect(ExportBody.parse({ name: "x", model: "members" }).target).toEqual({ type: "download" });
    const body = ExportBody.parse({ name: "x", model: "members", target: { type: "sftp", host: "sftp.example.com", username: "u", password: "p" } });
    expect(body.target).toMatchObject({ type: "sftp", port: 22, path: "/{export}_{date}_{run_id}.{ext}" });
    for (const t of [
      { type: "ftp", host: "ftp.example.com", username: "u", password: "p" },
      { type: "ftps", host: "ftp.example.com", username: "u", password: "p" },
      { type: "azure", endpoint: "https://acct.blob.core.windows.net", container: "exports", sas_token: "sv=1&sig=abc" },
      { ...s3() },
    ]) {
      expect(ExportBody.safeParse({ name: "x", model: "members", target: t }).success, t.type).toBe(true);
    }
  });

  it("rejects incomplete targets with messages a person can act on", () => {
    const noCred = SftpTarget.safeParse({ type: "sftp", host: "h.example.com", username: "u" });
    expect(noCred.success).toBe(false);
    expect(noCred.error?.issues[0]?.message).toMatch(/password or a private_key/);
    const badBucket = S3Target.safeParse({ ...s3(), bucket: "Not_A Bucket" });
    expect(badBucket.error?.issues[0]?.message).toMatch(/bucket:/);
    const smuggle = FtpTarget.safeParse({ type: "ftp", host: "ftp.example.com", username: "u", password: "p\r\nDELE x", path: "/a\r\nDELE b" });
    expect(smuggle.error?.issues.map((i) => i.path.join("."))).toEqual(["password", "path"]);
    const climb = S3Target.safeParse({ ...s3(), key: "../../etc/{name}" });
    expect(climb.error?.issues[0]?.message).toMatch(/'\.\.'/);
  });

  it("seals secrets at rest: the stored JSON does not contain them, and unsealing restores them", async () => {
    const plain = s3();
    const sealed = await sealTarget(plain);
    const stored = JSON.stringify(sealed);
    expect(stored).not.toContain(plain.secret_access_key);
    expect(sealed.secret_access_key).toMatch(/^v1\./);
    expect(sealed.access_key_id).toBe(plain.access_key_id); // not a secret
    expect(await unsealTarget(JSON.parse(stored))).toEqual(plain);
  });

  it("sealing twice keeps the sealed value (clone, re-save), and a look-alike that does not decrypt is sealed", async () => {
    const once = await sealTarget(s3());
    const twice = await sealTarget(once);
    expect(twice.secret_access_key).toBe(once.secret_access_key);
    expect((await unsealTarget(twice)).secret_access_key).toBe(s3().secret_access_key);
    const lookalike = { ...s3(), secret_access_key: "v1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBB" };
    const sealed = await sealTarget(lookalike);
    expect(sealed.secret_access_key).not.toBe(lookalike.secret_access_key);
    expect((await unsealTarget(sealed)).secret_access_key).toBe(lookalike.secret_access_key);
  });

  it("masks every secret field in responses", async () => {
    const sftp = SftpTarget.parse({ type: "sftp", host: "h.example.com", username: "u", password: "pw", private_key: "KEY", passphrase: "pp" });
    const masked = maskTarget(await sealTarget(sftp));
    expect(masked).toMatchObject({ password: MASK, private_key: MASK, passphrase: MASK, username: "u", host: "h.example.com" });
    expect(JSON.stringify(masked)).not.toMatch(/v1\./);
    expect(maskTarget({ type: "download" })).toEqual({ type: "download" });
  });

  it("keeps the stored secret when an update sends the mask back, and refuses a mask with nothing stored", async () => {
    const first = await sealTarget(s3());
    const again = await sealTarget({ ...s3(), secret_access_key: MASK, bucket: "other-bucket" }, first);
    expect(again.secret_access_key).toBe(first.secret_access_key);
    expect((await unsealTarget(again)).secret_access_key).toBe(s3().secret_access_key);
    await expect(sealTarget({ ...s3(), secret_access_key: MASK })).rejects.toThrow(/send the real value/);
  });

  it("the secret fields are those marked in the schemas, for every target, source and notification", () => {
    const masked = (schema: Parameters<typeof maskSecrets>[0], v: Record<string, unknown>) =>
      Object.entries(maskSecrets(schema, v))
        .filter(([, x]) => x === MASK)
        .map(([k]) => k)
        .sort();
    const all = { endpoint: "x", region: "x", bucket: "x", access_key_id: "x", secret_access_key: "x", session_token: "x", host: "x", username: "x", password: "x", private_key: "x", passphrase: "x", host_key_sha256: "x", container: "x", sas_token: "x", prefix: "x" };
    expect(masked(DeliveryTarget, { ...all, type: "s3" })).toEqual(["secret_access_key", "session_token"]);
    expect(masked(DeliveryTarget, { ...all, type: "ftp" })).toEqual(["password"]);
    expect(masked(DeliveryTarget, { ...all, type: "ftps" })).toEqual(["password"]);
    expect(masked(DeliveryTarget, { ...all, type: "sftp" })).toEqual(["passphrase", "password", "private_key"]);
    expect(masked(DeliveryTarget, { ...all, type: "azure" })).toEqual(["sas_token"]);
    expect(masked(SourceConfig, { ...all, type: "s3" })).toEqual(["secret_access_key", "session_token"]);
    expect(masked(SourceConfig, { ...all, type: "azure" })).toEqual(["sas_token"]);
    expect(maskSecrets(NewSource, { name: "n", webhook_url: "u", webhook_secret: "w", config: { ...all, type: "azure" } })).toMatchObject({ webhook_url: "u", webhook_secret: MASK, config: { sas_token: MASK, container: "x" } });
    expect(maskSecrets(ExportBody, { name: "n", notification: { webhook_url: "u", secret: "s" } })).toEqual({ name: "n", notification: { webhook_url: "u", secret: MASK } });
  });

  it("drivers refuse private hosts unless ALLOW_PRIVATE_TARGETS is on, before sending anything", async () => {
    const s = servers().s3;
    const bucket = "never-touched";
    const t = S3Target.parse({ type: "s3", endpoint: s.endpoint, region: s.region, bucket, access_key_id: s.accessKeyId, secret_access_key: s.secretAccessKey });
    const err = await s3Driver.test({ ...e, ALLOW_PRIVATE_TARGETS: "false" }, t).then(() => null, (x) => x);
    expect(err).toBeInstanceOf(TargetError);
    expect(err.message).toMatch(/127\.0\.0\.1.*not allowed/);
    expect(await (await control(`/s3/log?bucket=${bucket}`)).json()).toEqual([]);
  });
});
