import { describe, expect, it } from "vitest";
import { canonicalHost, checkTargetHost, isPrivateAddress } from "../../src/targets/hosts";
import { TargetError } from "../../src/targets/types";

const strict = { ALLOW_PRIVATE_TARGETS: "false" };
const resolver = (answers: Record<string, string[]>) => async (name: string) => answers[name] ?? [];

async function refused(host: string, resolve = resolver({})): Promise<TargetError> {
  const err = await checkTargetHost(strict, host, resolve).then(() => null, (x) => x);
  expect(err, host).toBeInstanceOf(TargetError);
  expect((err as TargetError).kind).toBe("config");
  return err as TargetError;
}

describe("target host checks", () => {
  it.each([
    "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1",
    "::ffff:127.0.0.1", "::ffff:7f00:1", "64:ff9b::a00:1", "2002:c0a8:101::1", "ff02::1",
  ])("%s is private or special", (ip) => {
    expect(isPrivateAddress(ip)).toBe(true);
  });

  it.each(["8.8.8.8", "1.1.1.1", "172.32.0.1", "192.169.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "100.128.0.1"])("%s is public", (ip) => {
    expect(isPrivateAddress(ip)).toBe(false);
  });

  it("canonicalises shorthand and numeric IPv4 forms before checking", async () => {
    expect(canonicalHost("127.1")).toBe("127.0.0.1");
    expect(canonicalHost("2130706433")).toBe("127.0.0.1");
    expect(canonicalHost("0x7f.0.0.1")).toBe("127.0.0.1");
    expect(canonicalHost("[::1]")).toBe("::1");
    expect(canonicalHost("Example.COM.")).toBe("example.com");
    for (const h of ["127.1", "2130706433", "0x7f000001", "0177.0.0.1", "[::ffff:127.0.0.1]", "::1"]) await refused(h);
  });

  it("refuses local names without asking DNS", async () => {
    for (const h of ["localhost", "LOCALHOST", "api.localhost", "printer.local", "metadata.google.internal", "nas.home.arpa"]) {
      const err = await refused(h, async () => {
        throw new Error("DNS must not be asked");
      });
      expect(err.message).toMatch(/not allowed/);
    }
  });

  it("resolves names and refuses one that points at a private address (rebinding names)", async () => {
    const err = await refused("evil.example.com", resolver({ "evil.example.com": ["93.184.216.34", "10.0.0.5"] }));
    expect(err.message).toMatch(/resolves to 10\.0\.0\.5/);
    await checkTargetHost(strict, "ok.example.com", resolver({ "ok.example.com": ["93.184.216.34", "2606:2800:220:1::1"] }));
    await checkTargetHost(strict, "8.8.8.8", resolver({}));
  });

  it("refuses names that do not resolve, and says so", async () => {
    const err = await refused("nothing.example.com");
    expect(err.message).toMatch(/does not resolve/);
    const err2 = await refused("broken.example.com", async () => {
      throw new Error("SERVFAIL");
    });
    expect(err2.message).toMatch(/could not be resolved \(SERVFAIL\)/);
  });

  it("allows everything when ALLOW_PRIVATE_TARGETS is 'true'", async () => {
    await checkTargetHost({ ALLOW_PRIVATE_TARGETS: "true" }, "127.0.0.1");
    await checkTargetHost({ ALLOW_PRIVATE_TARGETS: "true" }, "localhost");
  });
});
