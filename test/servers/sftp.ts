/**
 * A loopback SFTP server built on ssh2's own `Server`: password and public-key
 * authentication (wrong ones are refused), and the SFTP requests an upload needs,
 * mapped onto a temporary directory.
 */
import { closeSync, existsSync, fstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, normalize } from "node:path";
import ssh2 from "ssh2";

const { Server, utils } = ssh2;
const STATUS = utils.sftp.STATUS_CODE;

export async function startSftp(opts: { user: string; password: string; publicKeys: string[] }) {
  const root = mkdtempSync(join(tmpdir(), "ferry-sftp-"));
  const hostKey = utils.generateKeyPairSync("ed25519");
  const allowed = opts.publicKeys.map((k) => {
    const parsed = utils.parseKey(k);
    if (parsed instanceof Error) throw parsed;
    return Array.isArray(parsed) ? parsed[0]! : parsed;
  });

  /** SFTP paths are absolute inside the root; `..` cannot climb out. */
  const local = (p: string) => join(root, normalize(`/${p}`));

  const server = new Server({ hostKeys: [hostKey.private] }, (client) => {
    client.on("authentication", (ctx) => {
      if (ctx.username !== opts.user) return ctx.reject();
      if (ctx.method === "password") return ctx.password === opts.password ? ctx.accept() : ctx.reject();
      if (ctx.method === "publickey") {
        const key = allowed.find((k) => k.type === ctx.key.algo && k.getPublicSSH().equals(ctx.key.data));
        if (!key) return ctx.reject();
        if (ctx.signature && ctx.blob && key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) return ctx.reject();
        return ctx.accept();
      }
      return ctx.reject(["password", "publickey"]);
    });
    client.on("ready", () => {
      client.on("session", (accept) => {
        const session = accept();
        session.on("sftp", (acceptSftp) => {
          const sftp = acceptSftp();
          const handles = new Map<number, { fd?: number; dir?: string[] }>();
          let next = 0;
          const newHandle = (h: { fd?: number; dir?: string[] }) => {
            const id = next++;
            handles.set(id, h);
            const buf = Buffer.alloc(4);
            buf.writeUInt32BE(id);
            return buf;
          };
          const getHandle = (buf: Buffer) => (buf.length === 4 ? handles.get(buf.readUInt32BE()) : undefined);
          const attrsOf = (st: { mode: number; size: number; uid: number; gid: number; atimeMs: number; mtimeMs: number }) => ({
            mode: st.mode,
            size: st.size,
            uid: st.uid,
            gid: st.gid,
            atime: Math.floor(st.atimeMs / 1000),
            mtime: Math.floor(st.mtimeMs / 1000),
          });
          const fail = (reqid: number, err: unknown) => {
            const code = (err as NodeJS.ErrnoException).code;
            sftp.status(reqid, code === "ENOENT" ? STATUS.NO_SUCH_FILE : code === "EACCES" ? STATUS.PERMISSION_DENIED : STATUS.FAILURE, String(err));
          };

          sftp.on("OPEN", (reqid, filename, flags) => {
            try {
              const mode = utils.sftp.flagsToString(flags) ?? "r";
              sftp.handle(reqid, newHandle({ fd: openSync(local(filename), mode) }));
            } catch (err) {
              fail(reqid, err);
            }
          });
          sftp.on("WRITE", (reqid, handle, offset, data) => {
            const h = getHandle(handle);
            if (h?.fd === undefined) return sftp.status(reqid, STATUS.FAILURE, "bad handle");
            try {
              writeSync(h.fd, data, 0, data.length, offset);
              sftp.status(reqid, STATUS.OK);
            } catch (err) {
              fail(reqid, err);
            }
          });
          sftp.on("CLOSE", (reqid, handle) => {
            const h = getHandle(handle);
            if (!h) return sftp.status(reqid, STATUS.FAILURE, "bad handle");
            if (h.fd !== undefined) closeSync(h.fd);
            handles.delete(handle.readUInt32BE());
            sftp.status(reqid, STATUS.OK);
          });
          sftp.on("FSTAT", (reqid, handle) => {
            const h = getHandle(handle);
            if (h?.fd === undefined) return sftp.status(reqid, STATUS.FAILURE, "bad handle");
            sftp.attrs(reqid, attrsOf(fstatSync(h.fd)));
          });
          const stat = (reqid: number, path: string) => {
            try {
              sftp.attrs(reqid, attrsOf(statSync(local(path))));
            } catch (err) {
              fail(reqid, err);
            }
          };
          sftp.on("STAT", stat);
          sftp.on("LSTAT", stat);
          sftp.on("SETSTAT", (reqid) => sftp.status(reqid, STATUS.OK));
          sftp.on("FSETSTAT", (reqid) => sftp.status(reqid, STATUS.OK));
          sftp.on("REALPATH", (reqid, path) => {
            const abs = normalize(`/${path}`);
            sftp.name(reqid, [{ filename: abs, longname: abs, attrs: {} as never }]);
          });
          sftp.on("MKDIR", (reqid, path) => {
            try {
              mkdirSync(local(path));
              sftp.status(reqid, STATUS.OK);
            } catch (err) {
              fail(reqid, err);
            }
          });
          sftp.on("REMOVE", (reqid, path) => {
            try {
              unlinkSync(local(path));
              sftp.status(reqid, STATUS.OK);
            } catch (err) {
              fail(reqid, err);
            }
          });
          // As OpenSSH's sftp-server: a v3 RENAME does not replace an existing file (it links,
          // then unlinks), and posix-rename@openssh.com is not offered here.
          sftp.on("RENAME", (reqid, from, to) => {
            try {
              if (existsSync(local(to))) return sftp.status(reqid, STATUS.FAILURE, "target exists");
              renameSync(local(from), local(to));
              sftp.status(reqid, STATUS.OK);
            } catch (err) {
              fail(reqid, err);
            }
          });
          sftp.on("OPENDIR", (reqid, path) => {
            try {
              sftp.handle(reqid, newHandle({ dir: readdirSync(local(path)) }));
            } catch (err) {
              fail(reqid, err);
            }
          });
          sftp.on("READDIR", (reqid, handle) => {
            const h = getHandle(handle);
            if (!h?.dir) return sftp.status(reqid, STATUS.FAILURE, "bad handle");
            if (h.dir.length === 0) return sftp.status(reqid, STATUS.EOF);
            const names = h.dir.splice(0).map((n) => ({ filename: n, longname: n, attrs: {} as never }));
            sftp.name(reqid, names);
          });
        });
      });
    });
    client.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    root,
    async close() {
      await new Promise((r) => server.close(r));
    },
  };
}
