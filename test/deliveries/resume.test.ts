import { describe, expect, it, vi } from "vitest";
import { LEASE_SECONDS, MAX_ATTEMPTS, handleChainMessage, startChainNow, sweepStalledChains } from "../../src/chain";
import { getDelivery } from "../../src/db/deliveries";
import { driverFor } from "../../src/targets";
import type { DeliveryTarget } from "../../src/targets/config";
import type { TargetDriver, UploadState } from "../../src/targets/types";
import { setupTenant } from "../helpers";
import { bytes, control, controlJson, e, gcsTarget, readBack, sameBytes, servers, unique } from "../targets/helpers";
import { fastDriver, finishedRun, harness } from "./helpers";

vi.setConfig({ testTimeout: 120_000 });

const MiB = 1024 * 1024;

async function s3Target(over: Record<string, unknown> = {}) {
  const s = servers().s3;
  const bucket = unique("dlv");
  await controlJson("/s3/buckets", { name: bucket });
  return { type: "s3", endpoint: s.endpoint, region: s.region, bucket, access_key_id: s.accessKeyId, secret_access_key: s.secretAccessKey, key: "{run_id}.bin", part_size_mb: 5, ...over };
}
const sftpTarget = (dir: string) => {
  const s = servers().sftp;
  return { type: "sftp", host: s.host, port: s.port, username: s.user, password: s.password, path: `/${dir}/{run_id}.bin` };
};
const ftpTarget = (dir: string) => {
  const s = servers().ftp;
  return { type: "ftp", host: s.host, port: s.port, username: s.user, password: s.password, path: `/${dir}/{run_id}.bin` };
};

const s3Log = async (bucket: string) => (await (await control(`/s3/log?bucket=${bucket}`)).json()) as { op: string; status: number }[];
const openUploads = async (bucket: string) => [...(await (await control(`/s3/uploads?bucket=${bucket}`)).text()).matchAll(/<UploadId>/g)].length;

/** Where each kind of target keeps the delivered file, read back through the test servers' control API. */
const stored = (kind: string, target: Record<string, unknown>, runId: string) =>
  kind === "s3" ? readBack(`/s3/object?bucket=${target.bucket}&key=${runId}.bin`) : readBack(`/file?server=${kind}&path=${String(target.path).slice(1).replace("{run_id}", runId)}`);

/**
 * Real drivers, but the worker "dies" once, right after part `n` went out and before it is
 * recorded (its putPart never returns). `died()` waits (up to 10 s) for that to have happened.
 */
function diesAfterSendingPart(n: number) {
  let died = false;
  const drivers = (t: DeliveryTarget) => {
    const real = driverFor(t);
    const wrapped: TargetDriver<DeliveryTarget, UploadState> = {
      ...real,
      async putPart(...args) {
        const next = await real.putPart(...args);
        if (args[3] === n && !died) {
          died = true;
          return new Promise<never>(() => {}); // the bytes are out; the worker never records them
        }
        return next;
      },
    };
    return wrapped;
  };
  const waitDied = async () => {
    for (let i = 0; i < 400 && !died; i++) await new Promise((r) => setTimeout(r, 25));
    return died;
  };
  return { drivers, died: waitDied };
}

/** 1 MiB parts for FTP and SFTP (S3 parts are 5 MiB, its minimum): a 11 MiB file is 3 S3 parts, 11 SFTP parts. */
const driverOpts = { ...fastDriver, partBytes: MiB };

describe("a delivery resumes from its last recorded part", () => {
  for (const kind of ["s3", "sftp"] as const) {
    it(`${kind}: the message after part 2 is lost; the sweep resends it after the lease and the file lands byte-identical`, async () => {
      const { tenant } = await setupTenant(`resume-${kind}`);
      const target: Record<string, unknown> = kind === "s3" ? await s3Target() : sftpTarget(unique("resume"));
      const data = bytes(11 * MiB + 5, kind === "s3" ? 91 : 92);
      const { runId } = await finishedRun(tenant.id, target, data);
      // SFTP: 4 MiB parts (each part is one SSH login, ~0.6 s of handshake in JavaScript)
      const h = harness({ driver: { ...driverOpts, partBytes: 4 * MiB } });
      await startChainNow(h.s, { kind: "delivery", tenantId: tenant.id, subjectId: runId });

      const lost = await h.driveUntil(runId, (m) => m.position === 3); // begin, parts 1 and 2 ran; part 3's message is dropped
      const partSize = kind === "s3" ? 5 * MiB : 4 * MiB;
      const row = await getDelivery(h.s.db, tenant.id, runId);
      expect(row).toMatchObject({ status: "delivering", sent_bytes: 2 * partSize, part_size: partSize });
      expect(JSON.parse(row!.upload_state!)).toMatchObject({ sent: 2 * partSize, size: data.length });

      h.clock.advance(LEASE_SECONDS - 1);
      await sweepStalledChains(h.s);
      expect(h.take(runId)).toEqual([]); // not before the lease ran out
      h.clock.advance(2);
      await sweepStalledChains(h.s);
      expect(h.sent.map((x) => x.msg).filter((m) => m.type === "chain" && m.chain_id === lost.chain_id)).toEqual([lost]);
      await h.drive(runId);

      expect(await getDelivery(h.s.db, tenant.id, runId)).toMatchObject({ status: "delivered", sent_bytes: data.length, attempts: 0, error: null });
      expect((await h.chain(runId))?.status).toBe("done");
      expect(sameBytes(await stored(kind, target, runId), data)).toBe(true);
      const r2 = new Uint8Array(await (await e.FILES.get(`exports/${tenant.id}/${runId}/win-info.csv`))!.arrayBuffer());
      expect(sameBytes(await stored(kind, target, runId), r2)).toBe(true);
      if (kind === "s3") {
        // resumed at part 3: no part was sent twice, one upload
        expect((await s3Log(String(target.bucket))).map((l) => l.op)).toEqual(["create_multipart", "upload_part", "upload_part", "upload_part", "complete"]);
      }
    });
  }

  for (const kind of ["s3", "ftp"] as const) {
    it(`${kind}: the process dies mid-link after sending part 3 and before recording it; the resumed link does not send it twice`, async () => {
      const { tenant } = await setupTenant(`die-${kind}`);
      const target: Record<string, unknown> = kind === "s3" ? await s3Target() : ftpTarget(unique("die"));
      const data = bytes(11 * MiB + 3, kind === "s3" ? 93 : 94);
      const { runId } = await finishedRun(tenant.id, target, data);
      const dying = diesAfterSendingPart(3);
      const h = harness({ driver: driverOpts, drivers: dying.drivers });
      await startChainNow(h.s, { kind: "delivery", tenantId: tenant.id, subjectId: runId });
      const third = await h.driveUntil(runId, (m) => m.position === 3);
      void handleChainMessage(h.s, h.jobs, third);
      expect(await dying.died()).toBe(true);
      const partSize = kind === "s3" ? 5 * MiB : MiB;
      expect(await getDelivery(h.s.db, tenant.id, runId)).toMatchObject({ status: "delivering", sent_bytes: 2 * partSize });

      h.clock.advance(LEASE_SECONDS + 1);
      expect(await sweepStalledChains(h.s)).toBeGreaterThanOrEqual(1);
      await h.drive(runId);
      const row = await getDelivery(h.s.db, tenant.id, runId);
      expect(row).toMatchObject({ status: "delivered", sent_bytes: data.length });
      // FTP: the resumed link found part 3 in the temp file and did not append it again (an
      // append would have made the size wrong and started the upload over)
      expect(JSON.parse(row!.upload_state!).restarts).toBeUndefined();
      expect(sameBytes(await stored(kind, target, runId), data)).toBe(true);
      if (kind === "s3") {
        // part 3 went up twice under the same part number (the second replaced the first)
        expect((await s3Log(String(target.bucket))).map((l) => l.op)).toEqual(["create_multipart", "upload_part", "upload_part", "upload_part", "upload_part", "complete"]);
        expect(await openUploads(String(target.bucket))).toBe(0);
      }
    });
  }

  it("ftp: a temp file that grew under the upload (a stray writer) starts the upload over, and the file still lands byte-identical", async () => {
    const { tenant } = await setupTenant("restart-ftp");
    const dir = unique("stray");
    const target = ftpTarget(dir);
    const data = bytes(3 * MiB + 17, 95);
    const { runId } = await finishedRun(tenant.id, target, data);
    const h = harness({ driver: driverOpts });
    await startChainNow(h.s, { kind: "delivery", tenantId: tenant.id, subjectId: runId });
    const next = await h.driveUntil(runId, (m) => m.position === 3);
    const r = await control(`/file/append?server=ftp&path=${dir}/${runId}.bin.part-${runId}`, { method: "POST", body: "junk" });
    expect(r.status).toBe(200);
    await r.body?.cancel();
    await handleChainMessage(h.s, h.jobs, next);
    const back = h.take(runId);
    expect(back.map((m) => m.position)).toEqual([1]); // begun again: back to part 1
    expect((await getDelivery(h.s.db, tenant.id, runId))?.sent_bytes).toBe(0);
    await handleChainMessage(h.s, h.jobs, back[0]!);
    await h.drive(runId);
    const row = await getDelivery(h.s.db, tenant.id, runId);
    expect(row).toMatchObject({ status: "delivered" });
    expect(JSON.parse(row!.upload_state!).restarts).toBe(1);
    expect(sameBytes(await readBack(`/file?server=ftp&path=${dir}/${runId}.bin`), data)).toBe(true);
  });
});

describe("a delivery ends as delivered or failed, and aborts what it sent", () => {
  it("credentials revoked mid-way (403 on a part): failed at once with the reason, the multipart upload aborted, no retry", async () => {
    const { tenant } = await setupTenant("revoked");
    const target = await s3Target();
    const { runId } = await finishedRun(tenant.id, target, bytes(11 * MiB, 96));
    const h = harness({ driver: driverOpts });
    await startChainNow(h.s, { kind: "delivery", tenantId: tenant.id, subjectId: runId });
    const second = await h.driveUntil(runId, (m) => m.position === 2);
    await controlJson("/s3/faults", { bucket: target.bucket, op: "upload_part", count: 1, kind: "error", status: 403, code: "AccessDenied" });
    await handleChainMessage(h.s, h.jobs, second);
    expect(h.take(runId)).toEqual([]);
    const row = await getDelivery(h.s.db, tenant.id, runId);
    expect(row).toMatchObject({ status: "failed", attempts: 1 });
    expect(row?.error).toMatch(/UploadPart 2.*403 AccessDenied.*check access_key_id/);
    expect(await h.chain(runId)).toMatchObject({ status: "failed" });
    expect(await openUploads(String(target.bucket))).toBe(0);
    expect((await s3Log(String(target.bucket))).at(-1)?.op).toBe("abort");
  });

  it(`a part that keeps failing transiently: retried, then given up after ${MAX_ATTEMPTS} attempts as failed, and aborted`, async () => {
    const { tenant } = await setupTenant("give-up");
    const target = await s3Target();
    const { runId } = await finishedRun(tenant.id, target, bytes(11 * MiB, 97));
    const h = harness({ driver: driverOpts });
    await startChainNow(h.s, { kind: "delivery", tenantId: tenant.id, subjectId: runId });
    const second = await h.driveUntil(runId, (m) => m.position === 2);
    await controlJson("/s3/faults", { bucket: target.bucket, op: "upload_part", count: 100, kind: "error", status: 500, code: "InternalError" });
    await handleChainMessage(h.s, h.jobs, second);
    expect(await getDelivery(h.s.db, tenant.id, runId)).toMatchObject({ status: "retrying", attempts: 1 });
    expect(h.sent.find((x) => x.msg.type === "chain" && x.msg.chain_id === `delivery:${runId}`)?.delaySeconds).toBe(2);
    await h.drive(runId);
    const row = await getDelivery(h.s.db, tenant.id, runId);
    expect(row).toMatchObject({ status: "failed", attempts: MAX_ATTEMPTS });
    expect(row?.error).toMatch(new RegExp(`UploadPart 2.*InternalError.*gave up after ${MAX_ATTEMPTS} attempts`));
    expect(await h.chain(runId)).toMatchObject({ status: "failed" });
    expect(await openUploads(String(target.bucket))).toBe(0);
  });

  it("the run's file expired before the delivery: failed with that reason", async () => {
    const { tenant } = await setupTenant("expired");
    const { runId, key } = await finishedRun(tenant.id, await s3Target(), bytes(1000));
    await e.FILES.delete(key);
    const h = harness();
    await startChainNow(h.s, { kind: "delivery", tenantId: tenant.id, subjectId: runId });
    await h.drive(runId);
    expect((await getDelivery(h.s.db, tenant.id, runId))?.error).toMatch(/no longer in storage/);
  });

  it("azure: a run's file goes up as blocks through the chain (the sealed SAS token is unsealed before it is checked)", async () => {
    const { tenant } = await setupTenant("azure-chain");
    const az = servers().azure;
    const container = unique("c");
    const target = { type: "azure", endpoint: az.endpoint, container, sas_token: az.sas, blob: "{run_id}.bin", block_size_mb: 1 };
    const data = bytes(3 * MiB + 1, 98);
    const { runId } = await finishedRun(tenant.id, target, data);
    const h = harness();
    await startChainNow(h.s, { kind: "delivery", tenantId: tenant.id, subjectId: runId });
    expect(await h.drive(runId)).toBe(6); // begin, 4 blocks, complete
    expect(await getDelivery(h.s.db, tenant.id, runId)).toMatchObject({ status: "delivered", location: `${az.endpoint}/${container}/${runId}.bin` });
    expect(sameBytes(await readBack(`/azure/blob?container=${container}&blob=${runId}.bin`), data)).toBe(true);
  });
});

describe("gcs: a resumable upload session through the delivery chain", () => {
  const gcsLog = async (bucket: string) => (await (await control(`/gcs/log?bucket=${bucket}`)).json()) as { op: string; status: number; detail?: string }[];

  it("the process dies after sending chunk 3 and before recording it; the sweep resumes, the status query finds chunk 3, and the file lands byte-identical", async () => {
    const { tenant } = await setupTenant("die-gcs");
    const t = await gcsTarget();
    const target = { ...t, object: "{run_id}.bin" };
    const data = bytes(5 * MiB + 9, 99);
    const { runId, definition } = await finishedRun(tenant.id, target, data);
    expect(definition).not.toContain("PRIVATE KEY"); // sealed in the run's snapshot
    const dying = diesAfterSendingPart(3);
    const h = harness({ driver: fastDriver, drivers: dying.drivers });
    await startChainNow(h.s, { kind: "delivery", tenantId: tenant.id, subjectId: runId });
    const third = await h.driveUntil(runId, (m) => m.position === 3);
    const row2 = await getDelivery(h.s.db, tenant.id, runId);
    expect(row2).toMatchObject({ status: "delivering", sent_bytes: 2 * MiB, part_size: MiB });
    const state = JSON.parse(row2!.upload_state!);
    expect(state).toMatchObject({ sent: 2 * MiB, size: data.length, object: `${runId}.bin` });
    expect(state.session).toMatch(/^v1\./); // the session URI is sealed in run_deliveries
    void handleChainMessage(h.s, h.jobs, third);
    expect(await dying.died()).toBe(true);
    expect(await getDelivery(h.s.db, tenant.id, runId)).toMatchObject({ status: "delivering", sent_bytes: 2 * MiB });

    h.clock.advance(LEASE_SECONDS + 1);
    expect(await sweepStalledChains(h.s)).toBeGreaterThanOrEqual(1);
    await h.drive(runId);
    const row = await getDelivery(h.s.db, tenant.id, runId);
    expect(row).toMatchObject({ status: "delivered", sent_bytes: data.length, location: `gs://${t.bucket}/${runId}.bin` });
    expect(JSON.parse(row!.upload_state!).restarts).toBeUndefined();
    expect(sameBytes(await readBack(`/gcs/object?bucket=${t.bucket}&name=${runId}.bin`), data)).toBe(true);
    // one session; six chunks, chunk 3 sent once: the resumed link's status query found it
    const log = await gcsLog(t.bucket);
    expect(log.filter((l) => l.op === "create_session").length).toBe(1);
    expect(log.filter((l) => l.op === "chunk").length).toBe(6);
  });

  it("a wrong service-account key: the delivery is failed with the token endpoint's reason, without retries", async () => {
    const { tenant } = await setupTenant("gcs-bad-key");
    const g = servers().gcs;
    const target = await gcsTarget({ service_account: { ...g.key, private_key: g.wrongPrivateKey } });
    const { runId } = await finishedRun(tenant.id, target, bytes(1000));
    const h = harness();
    await startChainNow(h.s, { kind: "delivery", tenantId: tenant.id, subjectId: runId });
    expect(await h.drive(runId)).toBe(1); // begin: the token exchange is refused
    expect(h.sent.filter((x) => x.delaySeconds)).toEqual([]);
    const row = await getDelivery(h.s.db, tenant.id, runId);
    expect(row).toMatchObject({ status: "failed" });
    expect(row?.error).toMatch(/refused the service account key of ferry-delivery@ferry-test\.iam\.gserviceaccount\.com: 400 invalid_grant \(Invalid JWT Signature\.\)/);
    expect(row?.error).not.toContain("PRIVATE KEY");
    expect(await h.chain(runId)).toMatchObject({ status: "failed", attempts: 0 });
  });
});
