import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { expect, it } from "vitest";
import worker from "../../src/index";
import { setupTenant, waitFor } from "../helpers";
import { count, createSource, files, newBucket, purchasesNdjson, putObject, s3Config } from "./helpers";

/** Through the worker's own scheduled() entry point and the real queue consumer (miniflare). */
it("the cron's sources task discovers files and the queue ingests them, once", async () => {
  const t = await setupTenant("src", ["sources-manage"]);
  const bucket = await newBucket();
  await putObject(bucket, "purchases/date=2026-11-03/p.ndjson", purchasesNdjson(0, 25));
  const src = await createSource(t.token, s3Config(bucket));
  expect(src.status, src.text).toBe(201);

  const fire = async () => {
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" }), env as never, ctx);
    await waitOnExecutionContext(ctx);
  };
  await fire();
  // The queue consumer runs in the background: poll the status endpoint, no fixed sleep.
  await waitFor(async () => ((await files(t.token, src.json.id))[0]?.status === "completed" ? true : undefined), "the file to be ingested");
  expect((await files(t.token, src.json.id))[0]).toMatchObject({ status: "completed", rows_accepted: 25 });
  await fire();
  await fire();
  expect(await count(t.tenant.id, "purchases")).toBe(25);
  expect((await files(t.token, src.json.id)).length).toBe(1);
});
