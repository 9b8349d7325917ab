import { describe, expect, it } from "vitest";
import { ExportBody } from "../../src/exports/definition";
import { FtpTarget, MASK, S3Target, SftpTarget, maskTarget, sealTarget, unsealTarget } from "../../src/targets/config";
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
    const sealed = await sealTarget(e, plain);
    const stored = JSON.stringify(sealed);
    expect(stored).not.toContain(plain.secret_access_key);
    expect(sealed.secret_access_key).toMatch(/^v1\./);
    expect(sealed.access_key_id).toBe(plain.access_key_id); // not a secret
    expect(await unsealTarget(e, JSON.parse(stored))).toEqual(plain);
  });

  it("sealing twice keeps the sealed value (clone, re-save), and a look-alike that does not decrypt is sealed", async () => {
    const once = await sealTarget(e, s3());
    const twice = await sealTarget(e, once);
    expect(twice.secret_access_key).toBe(once.secret_access_key);
    expect((await unsealTarget(e, twice)).secret_access_key).toBe(s3().secret_access_key);
    const lookalike = { ...s3(), secret_access_key: "v1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBB" };
    const sealed = await sealTarget(e, lookalike);
    expect(sealed.secret_access_key).not.toBe(lookalike.secret_access_key);
    expect((await unsealTarget(e, sealed)).secret_access_key).toBe(lookalike.secret_access_key);
  });

  it("masks every secret field in responses", async () => {
    const sftp = SftpTarget.parse({ type: "sftp", host: "h.example.com", username: "u", password: "pw", private_key: "KEY", passphrase: "pp" });
    const masked = maskTarget(await sealTarget(e, sftp));
    expect(masked).toMatchObject({ password: MASK, private_key: MASK, passphrase: MASK, username: "u", host: "h.example.com" });
    expect(JSON.stringify(masked)).not.toMatch(/v1\./);
    expect(maskTarget({ type: "download" })).toEqual({ type: "download" });
  });

  it("keeps the stored secret when an update sends the mask back, and refuses a mask with nothing stored", async () => {
    const first = await sealTarget(e, s3());
    const again = await sealTarget(e, { ...s3(), secret_access_key: MASK, bucket: "other-bucket" }, first);
    expect(again.secret_access_key).toBe(first.secret_access_key);
    expect((await unsealTarget(e, again)).secret_access_key).toBe(s3().secret_access_key);
    await expect(sealTarget(e, { ...s3(), secret_access_key: MASK })).rejects.toThrow(/send the real value/);
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
