import { describe, expect, it } from "vitest";
import { Sha256 } from "../../src/lib/sha256";
import { sha256 } from "./helpers";

describe("resumable SHA-256", () => {
  it("matches crypto.subtle for every length around block boundaries", async () => {
    for (const n of [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000]) {
      const data = crypto.getRandomValues(new Uint8Array(n));
      expect(new Sha256().update(data).digestHex()).toBe(await sha256(data));
    }
  });

  it("gives the same digest when fed in pieces and resumed from JSON state between them", async () => {
    const data = new Uint8Array(300_000);
    for (let o = 0; o < data.length; o += 65_536) crypto.getRandomValues(data.subarray(o, o + 65_536));
    let state = new Sha256().state();
    let i = 0;
    while (i < data.length) {
      const n = Math.floor(Math.random() * 5000);
      const h = new Sha256(JSON.parse(JSON.stringify(state)));
      h.update(data.subarray(i, i + n));
      state = h.state();
      i += n;
    }
    expect(new Sha256(state).digestHex()).toBe(await sha256(data));
    expect(new Sha256().update(new TextEncoder().encode("abc")).digestHex()).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
  });
});
