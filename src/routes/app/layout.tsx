import type { Child, FC } from "hono/jsx";
import { raw } from "hono/html";
import type { SignedIn } from "../../users/users";

/** Page shell: skip link, header with the main navigation and the person, then `<main>`. */
export const Layout: FC<{ title: string; who: SignedIn | null; active?: "exports" | "ingestion" | "keys"; scripts?: string[]; children?: Child }> = (
  props,
) => (
  <>
  {raw("<!doctype html>")}
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <title>{`${props.title} · ferry back office`}</title>
      <link rel="stylesheet" href="/app/assets/app.css" />
      <link rel="icon" href="data:," />
    </head>
    <body>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/app">
          ferry
        </a>
        {props.who ? (
          <>
            <nav aria-label="Main">
              <a href="/app" aria-current={props.active === "exports" ? "page" : undefined}>
                Exports
              </a>
              <a href="/app/ingestion" aria-current={props.active === "ingestion" ? "page" : undefined}>
                Ingestion
              </a>
              <a href="/app/api-keys" aria-current={props.active === "keys" ? "page" : undefined}>
                API keys
              </a>
            </nav>
            <div class="who">
              <span>
                {props.who.user.email} <span class="small">({props.who.user.role}, {props.who.tenant.name})</span>
              </span>
              <form method="post" action="/app/sign-out" class="inline">
                <Csrf who={props.who} />
                <button type="submit">Sign out</button>
              </form>
            </div>
          </>
        ) : null}
      </header>
      <main id="main">{props.children}</main>
      {props.who ? <meta name="csrf-token" content={props.who.csrf} /> : null}
      {(props.scripts ?? []).map((s) => (
        <script src={`/app/assets/${s}`} defer />
      ))}
    </body>
  </html>
  </>
);

export const Csrf: FC<{ who: SignedIn }> = ({ who }) => <input type="hidden" name="_csrf" value={who.csrf} />;

/** A one-button form that POSTs to `action` with the CSRF token. */
export const PostButton: FC<{ who: SignedIn; action: string; label: string; back?: string; cls?: string; confirm?: string; extra?: Record<string, string>; aria?: string; pressed?: boolean }> = (
  p,
) => (
  <form method="post" action={p.action} class="inline" data-confirm={p.confirm}>
    <Csrf who={p.who} />
    {p.back ? <input type="hidden" name="back" value={p.back} /> : null}
    {Object.entries(p.extra ?? {}).map(([k, v]) => (
      <input type="hidden" name={k} value={v} />
    ))}
    <button type="submit" class={p.cls} aria-label={p.aria} aria-pressed={p.pressed === undefined ? undefined : p.pressed ? "true" : "false"}>
      {p.label}
    </button>
  </form>
);

export const Badge: FC<{ status: string; label?: string }> = ({ status, label }) => <span class={`badge ${status}`}>{label ?? status}</span>;

const UNITS = ["B", "KB", "MB", "GB", "TB"];
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "—";
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${UNITS[u]}`;
}

/** Epoch seconds as `2026-11-26 14:05 UTC`. */
export function when(s: number | null | undefined): string {
  if (s === null || s === undefined) return "—";
  return `${new Date(s * 1000).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

export function duration(seconds: number | null): string {
  if (seconds === null) return "—";
  if (seconds < 60) return `${seconds} s`;
  const m = Math.floor(seconds / 60);
  return m < 60 ? `${m} min ${seconds % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

export const fmtInt = (n: number) => n.toLocaleString("en-US");
