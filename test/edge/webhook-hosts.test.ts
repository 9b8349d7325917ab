import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createExport, updateExport } from "../../src/definitions/definitions";
import type { Env } from "../../src/env";
import { ExportBody } from "../../src/exports/definition";
import { ApiError } from "../../src/lib/errors";
import { createServices } from "../../src/services";
import { setupTenant } from "../helpers";

/** Services as deployed: private targets refused (the tests' own env allows them for the loopback servers). */
const deployed = () => createServices({ ...(env as unknown as Env), ALLOW_PRIVATE_TARGETS: "false" });

const definition = (name: string, url: string): ExportBody =>
  ExportBody.parse({
    name,
    model: "logins",
    all_fields: true,
    status: "draft",
    schedule: { type: "manual" },
    notification: { webhook_url: url, secret: "0123456789abcdef-secret" },
  });

async function refusal(p: Promise<unknown>): Promise<ApiError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  return err as ApiError;
}

describe("notification webhook URLs are checked for private hosts when saved", () => {
  it("refuses loopback, link-local, private and local names on create and on update, naming the field", async () => {
    const { tenant } = await setupTenant("webhook-hosts");
    const s = deployed();
    for (const url of ["http://127.0.0.1:8080/hook", "https://169.254.169.254/latest", "http://10.1.2.3/x", "https://localhost/x", "http://[::1]/x", "https://svc.internal/x"]) {
      const err = await refusal(createExport(s, tenant.id, "cli_test", definition(`hook-${Math.random().toString(36).slice(2, 8)}`, url)));
      expect(err.status, url).toBe(400);
      expect(err.details?.[0]?.path, url).toBe("notification.webhook_url");
      expect(err.message, url).toMatch(/notification\.webhook_url: host '.+' is not allowed/);
    }
    // A public address is accepted; changing it to a private one is refused.
    const ok = await createExport(s, tenant.id, "cli_test", definition("hook-public", "https://93.184.216.34/hook"));
    const err = await refusal(updateExport(s, tenant.id, ok.id, definition("hook-public", "http://192.168.1.10/hook"), false));
    expect(err.details?.[0]?.path).toBe("notification.webhook_url");
  });
});
