import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import * as z from "zod";
import type { Env } from "../../src/env";
import { ApiError } from "../../src/lib/errors";
import { MASK, maskSecrets, maskedPaths, sealSecrets, secret, unsealSecrets } from "../../src/lib/secrets";
import { createServices } from "../../src/services";

const box = createServices(env as unknown as Env).secrets;

/** Shaped like the real configs: a discriminated union with optional secrets, a refined secret, a nested object. */
const Target = z.discriminatedUnion("type", [
  z.object({ type: z.literal("s3"), key_id: z.string(), secret_key: secret(z.string().min(8, "secret_key: at least 8 characters")), token: secret(z.string()).optional() }),
  z.object({ type: z.literal("azure"), sas: secret(z.string().refine((s) => /(^|[?&])sig=/.test(s), "sas: must contain sig=")) }),
  z.object({ type: z.literal("download") }),
]);
const Body = z.object({ name: z.string(), target: Target, notification: z.object({ url: z.string(), secret: secret(z.string().min(4)) }).optional() });

describe("secret fields", () => {
  it("validates plain values with the field's own message", () => {
    const r = Body.safeParse({ name: "x", target: { type: "azure", sas: "sv=1&sp=w" } });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]).toMatchObject({ path: ["target", "sas"], message: "sas: must contain sig=" });
  });

  it("seals every marked field, and the sealed value parses again (it is not validated as plain text)", async () => {
    const plain = Body.parse({ name: "x", target: { type: "azure", sas: "sv=1&sig=abc" }, notification: { url: "u", secret: "hush-hush" } });
    const sealed = await sealSecrets(box, Body, plain);
    expect(sealed.target).toMatchObject({ type: "azure" });
    expect((sealed.target as { sas: string }).sas).toMatch(/^v1\./);
    expect(sealed.notification?.secret).toMatch(/^v1\./);
    expect(sealed.name).toBe("x");
    expect(Body.parse(JSON.parse(JSON.stringify(sealed)))).toEqual(sealed);
    expect(await unsealSecrets(box, Body, sealed)).toEqual(plain);
    // Sealing again keeps the sealed values as they are.
    expect(await sealSecrets(box, Body, sealed)).toEqual(sealed);
  });

  it("masks only secret fields, only those present, in the option the value is", async () => {
    const v = Body.parse({ name: "x", target: { type: "s3", key_id: "AK", secret_key: "12345678" } });
    expect(maskSecrets(Body, v)).toEqual({ name: "x", target: { type: "s3", key_id: "AK", secret_key: MASK } });
    expect(maskSecrets(Body, { name: "y", target: { type: "download" } })).toEqual({ name: "y", target: { type: "download" } });
  });

  it('"****" keeps the stored value, and is a 400 naming the field when nothing is stored', async () => {
    const stored = await sealSecrets(box, Body, Body.parse({ name: "x", target: { type: "s3", key_id: "AK", secret_key: "12345678", token: "tok" } }));
    const update = Body.parse({ name: "x", target: { type: "s3", key_id: "AK2", secret_key: MASK, token: "new-token" } });
    expect(maskedPaths(Body, update)).toEqual(["target.secret_key"]);
    const next = await sealSecrets(box, Body, update, stored);
    expect((next.target as { secret_key: string }).secret_key).toBe((stored.target as { secret_key: string }).secret_key);
    expect(await unsealSecrets(box, Body, next)).toMatchObject({ target: { key_id: "AK2", secret_key: "12345678", token: "new-token" } });
    const err = await sealSecrets(box, Body, update).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.message).toMatch(/^target\.secret_key: "\*\*\*\*" keeps the stored value/);
  });

  it("a value that only looks sealed (another key, tampered) is sealed, not trusted", async () => {
    const fake = "v1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBB";
    const sealed = await sealSecrets(box, Body, Body.parse({ name: "x", target: { type: "s3", key_id: "AK", secret_key: fake } }));
    expect((sealed.target as { secret_key: string }).secret_key).not.toBe(fake);
    expect(await unsealSecrets(box, Body, sealed)).toMatchObject({ target: { secret_key: fake } });
  });
});
