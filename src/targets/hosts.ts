/**
 * User-supplied target hosts must not point the Worker at private, loopback,
 * link-local or otherwise special addresses (SSRF). Allowed only when the local
 * setting ALLOW_PRIVATE_TARGETS is "true" (tests and local development).
 *
 * A DNS name is resolved (A and AAAA, DNS over HTTPS) and every address it answers is
 * checked. The connection itself resolves the name again, so a name that changes its
 * answer between the check and the connection (DNS rebinding) is not fully covered;
 * deployed Workers cannot reach our own private networks anyway.
 */
import type { Env } from "../env";
import { TargetError } from "./types";

/** IPv4 ranges that are never a customer's public server (RFC 6890 special-purpose registry). */
const V4_BLOCKED: [string, number][] = [
  ["0.0.0.0", 8], // "this network"
  ["10.0.0.0", 8], // private
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local (cloud metadata lives here)
  ["172.16.0.0", 12], // private
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.0.2.0", 24], // documentation
  ["192.168.0.0", 16], // private
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // documentation
  ["203.0.113.0", 24], // documentation
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
];

const BLOCKED_NAMES = [/^localhost$/, /\.localhost$/, /\.local$/, /\.internal$/, /\.home\.arpa$/, /^localhost\.localdomain$/];

function v4ToInt(ip: string): number | null {
  const parts = ip.split(".");
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return null;
    n = n * 256 + Number(p);
  }
  return n;
}

function isBlockedV4(ip: string): boolean {
  const n = v4ToInt(ip);
  if (n === null) return false;
  return V4_BLOCKED.some(([base, bits]) => {
    const b = v4ToInt(base)!;
    const size = 2 ** (32 - bits);
    return Math.floor(n / size) === Math.floor(b / size);
  });
}

/** Expands an IPv6 address (no brackets, no zone) into 8 16-bit groups; null when malformed. */
function v6Groups(ip: string): number[] | null {
  let s = ip.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const n = v4ToInt(v4[1]!);
    if (n === null) return null;
    s = `${s.slice(0, v4.index)}${Math.floor(n / 65536).toString(16)}:${(n % 65536).toString(16)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 0) return null;
  const groups = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...tail].map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? parseInt(g, 16) : NaN));
  return groups.some(Number.isNaN) ? null : groups;
}

function isBlockedV6(ip: string): boolean {
  const g = v6Groups(ip);
  if (!g) return false;
  const [a = 0, b = 0] = g;
  const embeddedV4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  if (g.every((x) => x === 0)) return true; // ::
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return true; // ::1
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return isBlockedV4(embeddedV4(g[6]!, g[7]!)); // ::ffff:a.b.c.d
  if (g.slice(0, 6).every((x) => x === 0)) return true; // ::a.b.c.d (deprecated IPv4-compatible)
  if (a === 0x64 && b === 0xff9b) return isBlockedV4(embeddedV4(g[6]!, g[7]!)); // NAT64 64:ff9b::/96
  if (a === 0x2002) return isBlockedV4(embeddedV4(b, g[2]!)); // 6to4 2002::/16
  if ((a & 0xfe00) === 0xfc00) return true; // unique local fc00::/7
  if ((a & 0xffc0) === 0xfe80) return true; // link-local fe80::/10
  if ((a & 0xffc0) === 0xfec0) return true; // site-local fec0::/10 (deprecated)
  if ((a & 0xff00) === 0xff00) return true; // multicast
  if (a === 0x2001 && b === 0x0db8) return true; // documentation
  if (a === 0x0100 && g.slice(1, 4).every((x) => x === 0)) return true; // discard 100::/64
  return false;
}

/** True for a literal IP address in a private, loopback, link-local or special range. */
export function isPrivateAddress(ip: string): boolean {
  const bare = ip.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  return bare.includes(":") ? isBlockedV6(bare) : isBlockedV4(bare);
}

/**
 * Canonical form of a host as a client would connect to it: IPv4 shorthand and
 * numeric forms (`127.1`, `2130706433`, `0x7f.0.0.1`) become dotted quads, IPv6
 * loses its brackets, names are lower-cased without a trailing dot.
 */
export function canonicalHost(host: string): string {
  const h = host.trim();
  if (!h) throw new TargetError("config", "the host is empty");
  if (h.includes(":") && !h.startsWith("[")) return canonicalHost(`[${h}]`);
  let parsed: string;
  try {
    parsed = new URL(`http://${h}/`).hostname;
  } catch {
    throw new TargetError("config", `'${host}' is not a valid host name or IP address`);
  }
  return parsed.replace(/^\[|\]$/g, "").replace(/\.$/, "").toLowerCase();
}

export type Resolver = (name: string) => Promise<string[]>;

/** A and AAAA answers over DNS-over-HTTPS (JSON API). */
export const dohResolve: Resolver = async (name) => {
  const out: string[] = [];
  for (const type of ["A", "AAAA"]) {
    const res = await fetch(`https://cloudflare-dns.com/dns-query?name=${encodeURIComponent(name)}&type=${type}`, {
      headers: { accept: "application/dns-json" },
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) throw new Error(`DNS lookup answered ${res.status}`);
    const body = (await res.json()) as { Answer?: { type: number; data: string }[] };
    for (const a of body.Answer ?? []) if (a.type === 1 || a.type === 28) out.push(a.data);
  }
  return out;
};

const isIpLiteral = (h: string) => h.includes(":") || /^\d+\.\d+\.\d+\.\d+$/.test(h);

/**
 * Refuses hosts that are, or resolve to, private/loopback/link-local addresses unless
 * ALLOW_PRIVATE_TARGETS is "true". Throws a TargetError of kind "config".
 */
export async function checkTargetHost(env: Pick<Env, "ALLOW_PRIVATE_TARGETS">, host: string, resolve: Resolver = dohResolve): Promise<void> {
  const h = canonicalHost(host);
  if (env.ALLOW_PRIVATE_TARGETS === "true") return;
  const refuse = (why: string) =>
    new TargetError("config", `host '${host}' is not allowed: ${why}. Targets must be public servers (private, loopback and link-local addresses are refused)`);
  if (BLOCKED_NAMES.some((re) => re.test(h))) throw refuse("it names this machine or a local network");
  if (isIpLiteral(h)) {
    if (isPrivateAddress(h)) throw refuse("it is a private, loopback, link-local or reserved address");
    return;
  }
  let addresses: string[];
  try {
    addresses = await resolve(h);
  } catch (err) {
    throw new TargetError("config", `host '${host}' could not be resolved (${err instanceof Error ? err.message : String(err)})`);
  }
  if (addresses.length === 0) throw new TargetError("config", `host '${host}' does not resolve to any address`);
  const bad = addresses.find(isPrivateAddress);
  if (bad) throw refuse(`it resolves to ${bad}`);
}
