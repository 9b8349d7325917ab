/**
 * A TCP server on loopback that accepts connections and never sends a byte: a peer that hangs
 * in the middle of a handshake (SSH, TLS, FTP greeting), for the timeout tests.
 */
import { type AddressInfo, type Socket, createServer } from "node:net";

export async function startSilent() {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
