import { inject, it, expect } from "vitest";
import { env } from "cloudflare:test";
import { ftpDriver } from "../../src/targets/ftp";

for (const kind of ["ftp", "ftps"] as const) {
  it(`spike ${kind}`, async () => {
    const s = inject("targetServers");
    const srv = s[kind];
    const data = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 7) & 255);
    await env.FILES.put("spike/" + kind, data);
    const r = await ftpDriver.deliver(env as any, { type: kind, host: srv.host, port: srv.port, username: srv.user, password: srv.password, path: "/x/{date}/{name}" }, { key: "spike/" + kind, size: data.length, name: "f.bin", contentType: "application/octet-stream" }, { exportName: "e", runId: "run_1", date: "2026-11-25" });
    console.log(r);
    const back = new Uint8Array(await (await fetch(`${s.control}/file?server=${kind}&path=x/2026-11-25/f.bin`)).arrayBuffer());
    expect(back.length).toBe(data.length);
    expect(back.every((b, i) => b === data[i])).toBe(true);
  });
}
