import type { FC } from "hono/jsx";
import type { Category, ExportRecord } from "../../../backoffice/services";
import { can, type SignedIn } from "../../../users/users";
import { Badge, Layout, PostButton, bytes, when } from "../layout";

export const CATEGORY_LABELS: Record<Category, string> = {
  all: "All",
  in_progress: "In progress",
  scheduled: "Scheduled",
  draft: "Draft",
  closed: "Closed",
  favourites: "Favourites",
};

export interface ListState {
  q: string;
  category: Category;
  sort: "name" | "created_at";
  order: "asc" | "desc";
  page: number;
  perPage: number;
}

export function listUrl(s: ListState, change: Partial<ListState> = {}): string {
  const v = { ...s, ...change };
  const p = new URLSearchParams();
  if (v.q) p.set("q", v.q);
  if (v.category !== "all") p.set("category", v.category);
  if (v.sort !== "created_at") p.set("sort", v.sort);
  if (v.order !== (v.sort === "name" ? "asc" : "desc")) p.set("order", v.order);
  if (v.page > 1) p.set("page", String(v.page));
  const qs = p.toString();
  return qs ? `/app?${qs}` : "/app";
}

const TARGET_LABELS: Record<string, string> = { download: "Download", s3: "S3", ftp: "FTP", ftps: "FTPS", sftp: "SFTP", azure: "Azure Blob", gcs: "GCS" };
export const targetLabel = (t: string) => TARGET_LABELS[t] ?? t;

const SortHeader: FC<{ s: ListState; col: "name" | "created_at"; label: string }> = ({ s, col, label }) => {
  const active = s.sort === col;
  const next = active ? (s.order === "asc" ? "desc" : "asc") : col === "name" ? "asc" : "desc";
  return (
    <th aria-sort={active ? (s.order === "asc" ? "ascending" : "descending") : undefined}>
      <a href={listUrl(s, { sort: col, order: next, page: 1 })}>
        {label} {active ? (s.order === "asc" ? "▲" : "▼") : ""}
        <span class="sr-only">{active ? "" : ", sort"}</span>
      </a>
    </th>
  );
};

export const ExportListPage: FC<{ who: SignedIn; s: ListState; items: ExportRecord[]; total: number; notice?: string }> = ({ who, s, items, total, notice }) => {
  const pages = Math.max(1, Math.ceil(total / s.perPage));
  const back = listUrl(s);
  const manage = can(who.user.role, "exports-manage");
  return (
    <Layout title="Exports" who={who} active="exports">
      <div class="row spread">
        <h1>Exports</h1>
        {manage ? (
          <a class="button primary" href="/app/exports/new">
            New export
          </a>
        ) : null}
      </div>
      {notice ? (
        <div class="alert ok" role="status">
          {notice}
        </div>
      ) : null}
      <nav aria-label="Categories">
        <ul class="tabs">
          {(Object.keys(CATEGORY_LABELS) as Category[]).map((cat) => (
            <li>
              <a href={listUrl(s, { category: cat, page: 1 })} aria-current={s.category === cat ? "page" : undefined}>
                {CATEGORY_LABELS[cat]}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <search>
      <form method="get" action="/app" class="toolbar">
        <div class="grow">
          <label for="q">Search exports</label>
          <input id="q" name="q" type="search" value={s.q} placeholder="Part of the name" class="wide" />
        </div>
        {s.category !== "all" ? <input type="hidden" name="category" value={s.category} /> : null}
        {s.sort !== "created_at" ? <input type="hidden" name="sort" value={s.sort} /> : null}
        <button type="submit">Search</button>
      </form>
      </search>
      <p class="muted small" role="status">
        {total === 0 ? "No exports" : `${total} export${total === 1 ? "" : "s"}`}
        {s.q ? ` matching “${s.q}”` : ""}
        {s.category !== "all" ? ` in ${CATEGORY_LABELS[s.category]}` : ""}
      </p>
      <table>
        <caption class="sr-only">Exports</caption>
        <thead>
          <tr>
            <th>
              <span class="sr-only">Favourite</span>
            </th>
            <SortHeader s={s} col="name" label="Name" />
            <SortHeader s={s} col="created_at" label="Created" />
            <th>Model</th>
            <th>Target</th>
            <th>Status</th>
            <th>Last run</th>
            <th class="num">File size</th>
            {manage ? <th>Actions</th> : null}
          </tr>
        </thead>
        <tbody>
          {items.length === 0 ? (
            <tr>
              <td colspan={manage ? 9 : 8} class="empty">
                {s.q || s.category !== "all" ? "Nothing matches." : manage ? "No export yet: start with “New export”." : "No export yet."}
              </td>
            </tr>
          ) : null}
          {items.map((e) => (
            <tr>
              <td>
                {manage ? (
                  <PostButton
                    who={who}
                    action={`/app/exports/${e.id}/favourite`}
                    label={e.favourite ? "★" : "☆"}
                    cls="star link"
                    back={back}
                    extra={{ favourite: e.favourite ? "0" : "1" }}
                    aria={`Favourite ${e.name}`}
                    pressed={e.favourite}
                  />
                ) : e.favourite ? (
                  <>
                    <span aria-hidden="true">★</span>
                    <span class="sr-only">Favourite</span>
                  </>
                ) : null}
              </td>
              <td>
                <a href={`/app/exports/${e.id}`}>{e.name}</a>
              </td>
              <td>
                {when(e.createdAt)}
                <div class="small muted">by {e.createdBy}</div>
              </td>
              <td>{e.model}</td>
              <td>{e.definition ? targetLabel(e.definition.target.type) : "—"}</td>
              <td>
                <Badge status={e.status} />
                {e.status === "active" && e.definition && !["now", "manual"].includes(e.definition.schedule.type) ? <div class="small muted">{e.definition.schedule.type}</div> : null}
              </td>
              <td>
                {e.lastRun ? (
                  <>
                    <Badge status={e.lastRun.status} />
                    <div class="small muted">{when(e.lastRun.created_at)}</div>
                  </>
                ) : (
                  <span class="muted">never</span>
                )}
              </td>
              <td class="num">{e.lastRun ? bytes(e.lastRun.bytes) : "—"}</td>
              {manage ? (
                <td>
                  <div class="actions">
                    <PostButton who={who} action={`/app/exports/${e.id}/clone`} label="Clone" aria={`Clone ${e.name}`} />
                    {e.status === "active" ? (
                      <PostButton who={who} action={`/app/exports/${e.id}/disable`} label="Disable" back={back} aria={`Disable ${e.name}`} />
                    ) : e.status === "disabled" ? (
                      <PostButton who={who} action={`/app/exports/${e.id}/enable`} label="Enable" back={back} aria={`Enable ${e.name}`} />
                    ) : null}
                    <PostButton
                      who={who}
                      action={`/app/exports/${e.id}/delete`}
                      label="Delete"
                      cls="danger"
                      back={back}
                      aria={`Delete ${e.name}`}
                      confirm={`Delete the export ${e.name}? Its past files stay downloadable until they expire.`}
                    />
                  </div>
                </td>
              ) : null}
            </tr>
          ))}
        </tbody>
      </table>
      <nav class="pager" aria-label="Pages">
        {s.page > 1 ? <a href={listUrl(s, { page: s.page - 1 })}>← Previous</a> : <span class="muted">← Previous</span>}
        <span>
          Page {s.page} of {pages}
        </span>
        {s.page < pages ? <a href={listUrl(s, { page: s.page + 1 })}>Next →</a> : <span class="muted">Next →</span>}
      </nav>
    </Layout>
  );
};
