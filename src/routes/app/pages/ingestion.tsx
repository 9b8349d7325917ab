import type { FC } from "hono/jsx";
import type { Ingestion, SourceFile } from "../../../db/schema";
import type { SourceStats } from "../../../db/sources";
import type { SignedIn } from "../../../users/users";
import { Badge, Layout, bytes, fmtInt, when } from "../layout";

interface LineError {
  line: number;
  field: string;
  message: string;
}

export interface UploadLine {
  ing: Ingestion;
  errors: LineError[];
}

export interface SourceLine {
  source: { id: string; name: string; status: string; last_error: string | null; last_listed_at: number | null; config: Record<string, unknown> };
  stats: SourceStats;
  files: { file: Pick<SourceFile, "id" | "key" | "size" | "model" | "format" | "status" | "rows_accepted" | "rows_rejected" | "error" | "created_at">; errors: LineError[] }[];
}

const Errors: FC<{ errors: LineError[]; total: number; label: string }> = ({ errors, total, label }) =>
  errors.length ? (
    <details>
      <summary>
        {fmtInt(total)} rejected line{total === 1 ? "" : "s"}
        <span class="sr-only"> of {label}</span>
      </summary>
      <table>
        <thead>
          <tr>
            <th class="num">Line</th>
            <th>Column</th>
            <th>Error</th>
          </tr>
        </thead>
        <tbody>
          {errors.map((e) => (
            <tr>
              <td class="num">{e.line}</td>
              <td>{e.field || "—"}</td>
              <td>{e.message}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {total > errors.length ? <p class="small muted">The first {errors.length} are shown.</p> : null}
    </details>
  ) : total > 0 ? (
    <span>{fmtInt(total)} rejected</span>
  ) : (
    <span class="muted">none</span>
  );

const where = (cfg: Record<string, unknown>) =>
  cfg.type === "s3" ? `s3://${String(cfg.bucket)}/${String(cfg.prefix ?? "")}` : `${String(cfg.endpoint)}/${String(cfg.container)}/${String(cfg.prefix ?? "")}`;

export const IngestionPage: FC<{ who: SignedIn; uploads: UploadLine[]; sources: SourceLine[] }> = ({ who, uploads, sources }) => (
  <Layout title="Ingestion" who={who} active="ingestion">
    <h1>Ingestion</h1>
    <section aria-labelledby="csv-h">
      <h2 id="csv-h">Recent CSV uploads</h2>
      {uploads.length === 0 ? (
        <p class="muted">No CSV upload yet. Systems upload with an API key (POST /v1/kpis/csv, /v1/survey-data/csv).</p>
      ) : (
        <table>
          <caption class="sr-only">Recent CSV uploads, newest first</caption>
          <thead>
            <tr>
              <th>Uploaded</th>
              <th>File</th>
              <th>Model</th>
              <th>Status</th>
              <th class="num">Size</th>
              <th class="num">Rows accepted</th>
              <th>Rejected lines</th>
            </tr>
          </thead>
          <tbody>
            {uploads.map(({ ing, errors }) => (
              <tr>
                <td>{when(ing.created_at)}</td>
                <td>
                  {ing.file_name ?? "—"}
                  <div class="small muted">
                    <code>{ing.id}</code>
                  </div>
                </td>
                <td>{ing.model}</td>
                <td>
                  <Badge status={ing.status} />
                  {ing.error ? <div class="small error">{ing.error}</div> : null}
                </td>
                <td class="num">{bytes(ing.file_bytes)}</td>
                <td class="num">{fmtInt(ing.rows_accepted)}</td>
                <td>
                  <Errors errors={errors} total={ing.rows_rejected} label={ing.file_name ?? ing.id} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
    <section aria-labelledby="src-h">
      <h2 id="src-h">Bucket sources</h2>
      {sources.length === 0 ? <p class="muted">No bucket source. Sources are set up through the API (POST /api/1/sources).</p> : null}
      {sources.map(({ source, stats, files }) => (
        <div class="panel">
          <div class="row spread">
            <h3>
              {source.name} <Badge status={source.status} />
            </h3>
            <span class="small muted">
              {where(source.config)} · last listed {when(source.last_listed_at)}
            </span>
          </div>
          {source.last_error ? (
            <p class="error" role="note">
              {source.last_error}
            </p>
          ) : null}
          <p class="small">
            Files: {stats.files.completed} completed, {stats.files.processing} processing, {stats.files.pending} pending, {stats.files.failed} failed ·{" "}
            {fmtInt(stats.rows_accepted)} rows accepted, {fmtInt(stats.rows_rejected)} rejected
          </p>
          {files.length ? (
            <table>
              <caption class="sr-only">Files of {source.name}</caption>
              <thead>
                <tr>
                  <th>Key</th>
                  <th>Model</th>
                  <th>Format</th>
                  <th>Status</th>
                  <th class="num">Size</th>
                  <th class="num">Rows accepted</th>
                  <th>Rejected lines</th>
                </tr>
              </thead>
              <tbody>
                {files.map(({ file, errors }) => (
                  <tr>
                    <td>
                      <code>{file.key}</code>
                    </td>
                    <td>{file.model}</td>
                    <td>{file.format}</td>
                    <td>
                      <Badge status={file.status} />
                      {file.error ? <div class="small error">{file.error}</div> : null}
                    </td>
                    <td class="num">{bytes(file.size)}</td>
                    <td class="num">{fmtInt(file.rows_accepted)}</td>
                    <td>
                      <Errors errors={errors} total={file.rows_rejected} label={file.key} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
        </div>
      ))}
    </section>
  </Layout>
);
