// The loopback push targets of the soak: the same servers the delivery tests use (test/servers/),
// bundled by bench/soak/run.mjs with esbuild so the bench runs them in plain Node.
export { startS3 } from "../../test/servers/s3";
export { startSftp } from "../../test/servers/sftp";
