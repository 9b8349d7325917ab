/** A self-contained HTML rendering of the OpenAPI document (no external scripts). */
export function renderDocs(doc: { info: { title: string; version: string }; paths?: Record<string, Record<string, { summary?: string; description?: string; tags?: string[] }>> }): string {
  const esc = (s: string) => s.replace(/[&<>"]/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[ch] ?? ch);
  const rows: string[] = [];
  for (const [path, ops] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(ops)) {
      rows.push(
        `<tr><td><code>${esc(method.toUpperCase())}</code></td><td><code>${esc(path)}</code></td><td>${esc((op.tags ?? []).join(", "))}</td><td>${esc(op.summary ?? "")}${op.description ? `<br><small>${esc(op.description)}</small>` : ""}</td></tr>`,
      );
    }
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(doc.info.title)} API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left;vertical-align:top}code{font-size:13px}</style>
</head><body><h1>${esc(doc.info.title)} <small>${esc(doc.info.version)}</small></h1>
<p>Machine-readable description: <a href="/openapi.json">/openapi.json</a>.</p>
<table><thead><tr><th>Method</th><th>Path</th><th>Tag</th><th>Summary</th></tr></thead><tbody>${rows.join("")}</tbody></table></body></html>`;
}
