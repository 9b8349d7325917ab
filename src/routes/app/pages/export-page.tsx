import type { FC } from "hono/jsx";
import { describeFields, describeFilters, describeFormat, describeSchedule, describeTarget } from "../../../backoffice/describe";
import type { DeliveryView, ExportRecord, RunView } from "../../../backoffice/services";
import type { RunStats } from "../../../backoffice/stats";
import { getModel } from "../../../models";
import { can, type SignedIn } from "../../../users/users";
import { Badge, Layout, PostButton, bytes, duration, fmtInt, when } from "../layout";
import { DurationChart, RunsPerDayChart } from "./charts";

export interface RunLine {
  run: RunView & { created: number; started: number | null; finished: number | null };
  /** the run's push delivery as the runs API shows it; null for the download target */
  delivery: DeliveryView | null;
}

const secs = (iso: string | null) => (iso ? Math.floor(Date.parse(iso) / 1000) : null);

export function runLine(run: RunView): RunLine {
  return { run: { ...run, created: secs(run.created_at) ?? 0, started: secs(run.started_at), finished: secs(run.finished_at) }, delivery: run.delivery };
}

/** The runs table; the page's script re-fetches it while a run is pending or processing. */
export const RunsTable: FC<{ who: SignedIn; exp: ExportRecord; lines: RunLine[]; total: number }> = ({ who, exp, lines, total }) => {
  const active = lines.some((l) => l.run.status === "pending" || l.run.status === "processing");
  const delivers = (exp.definition !== null && exp.definition.target.type !== "download") || lines.some((l) => l.delivery);
  return (
    <div id="runs" data-active={active ? "true" : "false"} data-src={`/app/exports/${exp.id}/runs`} aria-live="polite">
      {lines.length === 0 ? (
        <p class="muted">No run yet.</p>
      ) : (
        <table>
          <caption class="sr-only">Runs, newest first</caption>
          <thead>
            <tr>
              <th>Started</th>
              <th>Trigger</th>
              <th>Status</th>
              <th class="num">Rows</th>
              <th class="num">Size</th>
              <th class="num">Duration</th>
              <th>File</th>
              {delivers ? <th>Delivery</th> : null}
            </tr>
          </thead>
          <tbody>
            {lines.map(({ run, delivery }) => (
              <tr data-run={run.id} data-status={run.status}>
                <td>{when(run.created)}</td>
                <td>{run.trigger}</td>
                <td>
                  <Badge status={run.status} />
                  {run.status === "processing" || run.status === "pending" ? (
                    <div>
                      <progress max={1} value={run.progress} aria-label={`Progress of the run started ${when(run.created)}`}>
                        {Math.round(run.progress * 100)}%
                      </progress>{" "}
                      <span class="small">{Math.round(run.progress * 100)}%</span>
                    </div>
                  ) : null}
                  {run.error ? <div class="error small">{run.error}</div> : null}
                </td>
                <td class="num">{fmtInt(run.rows)}</td>
                <td class="num">{run.status === "finished" ? bytes(run.bytes) : "—"}</td>
                <td class="num">{duration(run.finished !== null ? run.finished - (run.started ?? run.created) : null)}</td>
                <td>
                  {run.download_url ? (
                    <a href={run.download_url} download={run.file_name ?? undefined} aria-describedby={`file-${run.id}`}>
                      Download
                    </a>
                  ) : run.expired ? (
                    <span class="muted">expired</span>
                  ) : (
                    <span class="muted">—</span>
                  )}
                  {run.file_name ? (
                    <div class="small muted" id={`file-${run.id}`}>
                      {run.file_name}
                    </div>
                  ) : null}
                </td>
                {delivers ? (
                  <td>
                    {delivery ? (
                      <>
                        <Badge status={delivery.status} />
                        {delivery.location ? <div class="small muted">{delivery.location}</div> : null}
                        {delivery.error ? <div class="small error">{delivery.error}</div> : null}
                        {delivery.status === "failed" && can(who.user.role, "exports-manage") ? (
                          <PostButton who={who} action={`/app/exports/${exp.id}/runs/${run.id}/deliver`} label="Deliver again" />
                        ) : null}
                      </>
                    ) : (
                      <span class="muted">—</span>
                    )}
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {total > lines.length ? <p class="small muted">The last {lines.length} of {total} runs.</p> : null}
    </div>
  );
};

export const ExportPage: FC<{ who: SignedIn; exp: ExportRecord; lines: RunLine[]; total: number; stats: RunStats; notice?: string }> = (p) => {
  const { exp, who } = p;
  const def = exp.definition;
  const model = getModel(exp.model);
  const manage = can(who.user.role, "exports-manage");
  const editable = exp.status === "draft" || exp.status === "disabled";
  return (
    <Layout title={exp.name} who={who} active="exports" scripts={["app.js", "export.js"]}>
      <p class="small">
        <a href="/app">← Exports</a>
      </p>
      <div class="row spread">
        <h1>
          {exp.name} <Badge status={exp.status} />
          {exp.favourite ? (
            <>
              {" "}
              <span aria-hidden="true">★</span>
              <span class="sr-only">favourite</span>
            </>
          ) : null}
        </h1>
        {manage ? (
          <div class="actions">
            {exp.status === "active" ? <PostButton who={who} action={`/app/exports/${exp.id}/run`} label="Run now" cls="primary" /> : null}
            {editable ? (
              <a class="button" href={`/app/exports/${exp.id}/edit`}>
                Edit
              </a>
            ) : null}
            <PostButton who={who} action={`/app/exports/${exp.id}/clone`} label="Clone" />
            {exp.status === "active" ? (
              <PostButton who={who} action={`/app/exports/${exp.id}/disable`} label="Disable" back={`/app/exports/${exp.id}`} />
            ) : exp.status === "disabled" ? (
              <PostButton who={who} action={`/app/exports/${exp.id}/enable`} label="Enable" back={`/app/exports/${exp.id}`} />
            ) : null}
            <PostButton
              who={who}
              action={`/app/exports/${exp.id}/delete`}
              label="Delete"
              cls="danger"
              confirm={`Delete the export ${exp.name}? Its past files stay downloadable until they expire.`}
            />
          </div>
        ) : null}
      </div>
      {p.notice ? (
        <div class="alert ok" role="status">
          {p.notice}
        </div>
      ) : null}
      {exp.status === "draft" ? (
        <div class="alert ok" role="note">
          This export is a draft: it does not run until it is published. {manage ? "Edit it to publish it." : ""}
        </div>
      ) : null}
      {exp.scheduleError ? (
        <div class="alert error" role="alert">
          The scheduler stopped running this export: {exp.scheduleError}
        </div>
      ) : null}
      {def ? (
      <section class="panel" aria-labelledby="def-h">
          <h2 id="def-h">What it exports</h2>
          <dl class="summary">
            <dt>Data</dt>
            <dd>
              {model ? `${model.title} (${exp.model})` : exp.model}: {describeFilters(def)}
              {def.incremental ? ", only rows ingested since the previous run" : ""}
            </dd>
            <dt>Columns</dt>
            <dd>
              {def.aggregate ? "Aggregated: " : ""}
              {describeFields(def).join("; ")}
            </dd>
            <dt>Time zone</dt>
            <dd>{def.timezone}</dd>
            <dt>File</dt>
            <dd>{describeFormat(def)}</dd>
            <dt>Runs</dt>
            <dd>
              {describeSchedule(def.schedule)}
              {exp.nextRunAt ? ` — next: ${when(exp.nextRunAt)}` : ""}
            </dd>
            <dt>Delivery</dt>
            <dd>{describeTarget(def.target)}</dd>
            <dt>Kept</dt>
            <dd>{def.retention_days} days</dd>
            <dt>Created</dt>
            <dd>
              {when(exp.createdAt)} by {exp.createdBy}
            </dd>
          </dl>
        </section>
      ) : (
        <section class="panel">
          <h2>What it exports</h2>
          <p>The stored definition cannot be read any more. {editable ? "Edit it to define it again." : "Disable it to edit it, or delete it."}</p>
        </section>
      )}
      <section aria-labelledby="runs-h">
        <h2 id="runs-h">Runs</h2>
        <RunsTable who={who} exp={exp} lines={p.lines} total={p.total} />
      </section>
      <section aria-labelledby="stats-h">
        <h2 id="stats-h">Statistics</h2>
        <div class="stats">
          <div class="panel">
            <h3>Success rate</h3>
            <p class="stat-figure">{p.stats.successRate === null ? "—" : `${Math.round(p.stats.successRate * 100)}%`}</p>
            <p class="small muted">of the {p.stats.ended} ended runs shown here</p>
          </div>
          <div class="panel">
            <h3>Runs per day</h3>
            <RunsPerDayChart stats={p.stats} />
          </div>
          <div class="panel">
            <h3>Duration</h3>
            <DurationChart stats={p.stats} />
          </div>
        </div>
      </section>
    </Layout>
  );
};
