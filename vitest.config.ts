import { defineConfig } from "vitest/config";
import { prepareTestTls } from "./test/servers/tls";

export default defineConfig(async () => {
  // Before miniflare is imported: it reads NODE_EXTRA_CA_CERTS once (test/servers/tls.ts).
  await prepareTestTls();
  const { cloudflareTest, readD1Migrations } = await import("@cloudflare/vitest-plugin");
  const controlMigrations = await readD1Migrations("migrations/control");
  const dataMigrations = await readD1Migrations("migrations/data");
  return {
    test: {
      projects: [
        {
          plugins: [
            cloudflareTest({
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: {
                bindings: {
                  ADMIN_TOKEN: "test-admin-token",
                  SECRETS_KEY: "dGVzdC1zZWNyZXRzLWtleS0zMi1ieXRlcy1sb25nISE=",
                  // Delivery-target tests talk to servers on loopback (test/servers/).
                  ALLOW_PRIVATE_TARGETS: "true",
                  // Links in notification emails (test/exports-run/email.test.ts opens them with SELF.fetch).
                  PUBLIC_URL: "http://ferry.test",
                  CONTROL_MIGRATIONS: controlMigrations,
                  DATA_MIGRATIONS: dataMigrations,
                },
              },
            }),
          ],
          test: {
            name: "workers",
            include: ["test/**/*.test.ts"],
            exclude: ["test/node/**"],
            setupFiles: ["./test/setup/apply-migrations.ts"],
            // Loopback S3/FTP/FTPS/SFTP/Azure servers for the delivery-target tests.
            globalSetup: ["./test/servers/global-setup.ts"],
            testTimeout: 30_000,
          },
        },
        /** Tests that need the host: standard command-line tools (gunzip, unzip) reading our output. */
        {
          test: {
            name: "node",
            include: ["test/node/**/*.test.ts"],
            environment: "node",
            testTimeout: 60_000,
          },
        },
      ],
    },
  };
});
