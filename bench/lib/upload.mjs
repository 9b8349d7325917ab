// A streamed upload for the tests and benchmarks that measure how a refused upload is handled
// (test/node/upload-memory.test.ts, bench/upload-memory).
import { request } from "node:http";

/**
 * Streams a multipart/form-data body of about `total` bytes with chunked transfer encoding (no
 * Content-Length, so a declared size cannot refuse it): the CSV `header` line, then 1 MiB chunks
 * of `line`. Resolves with the status (0 when the server reset the connection before its answer
 * could be read: a refusal too), the bytes written before the answer came, and the body.
 */
export function chunkedUpload(url, headers, total, { header = "timestamp,user_id,register_date,churn_date,kpi_id,value", line = "2026-11-01 10:00:00,u-123456,2026-01-01,,dau,42" } = {}) {
  const boundary = "ferry-bench-upload";
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n${header}\r\n`);
  const chunk = Buffer.from(`${line}\r\n`.repeat(Math.floor((1024 * 1024) / (line.length + 2))));
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = request(url, {
      method: "POST",
      headers: { ...headers, "Content-Type": `multipart/form-data; boundary=${boundary}`, "Transfer-Encoding": "chunked" },
    });
    req.on("response", (res) => {
      answered = true;
      const at = sent;
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, sent: at, body }));
    });
    req.on("error", (err) => {
      if (answered) return;
      if (err.code === "ECONNRESET" || err.code === "EPIPE") {
        answered = true;
        resolve({ status: 0, sent, body: "" });
      } else reject(err);
    });
    const pump = () => {
      if (sent === 0) {
        req.write(head);
        sent += head.length;
      }
      while (!answered && sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once("drain", pump);
      }
      if (!answered) req.end(`\r\n--${boundary}--\r\n`);
    };
    pump();
  });
}
