/**
 * D1 read replication through the Sessions API. A session on a database is sequentially
 * consistent: every query in it sees at least what the previous one saw, and a session opened
 * with a bookmark sees at least everything up to that bookmark, on whichever replica serves it.
 * Without a session, D1 sends every query to the primary.
 * https://developers.cloudflare.com/d1/best-practices/read-replication/
 *
 * Ferry has several databases (the control `DB` and the shards `DATA_n`), each with its own
 * bookmarks, so the bookmark a client carries (`x-d1-bookmark`) names one per database:
 * `DB=<bookmark>,DATA_1=<bookmark>`. It is opaque to clients: they send back what they got.
 *
 * `openSessions` returns a copy of the environment whose D1 bindings are session-backed, so
 * createServices builds the same services from it and no repository changes.
 */

export const BOOKMARK_HEADER = "x-d1-bookmark";

/** How a session starts when the client sent no bookmark for that database. */
export type SessionStart = "first-primary" | "first-unconstrained";

/** D1's bookmarks: four dash-separated hex fields (the last one 32 digits). */
const BOOKMARK_RE = /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/;
/** The control database and the data shards: the bindings that get a session. */
const D1_BINDING_RE = /^(DB|DATA_\d+)$/;

export class BookmarkError extends Error {}

/** Parses an `x-d1-bookmark` header; throws BookmarkError on anything ferry did not issue. */
export function parseBookmarks(header: string | undefined | null): Map<string, string> {
  const out = new Map<string, string>();
  if (!header?.trim()) return out;
  for (const part of header.split(",")) {
    const [name, bookmark, extra] = part.trim().split("=");
    if (!name || !bookmark || extra !== undefined || !D1_BINDING_RE.test(name) || !BOOKMARK_RE.test(bookmark)) {
      throw new BookmarkError(`'${part.trim().slice(0, 80)}' is not a database=bookmark pair`);
    }
    out.set(name, bookmark);
  }
  return out;
}

export interface D1Sessions<E> {
  /** the environment with session-backed D1 bindings; give it to createServices */
  env: E;
  /** the newest bookmark of every database: those the request used, and those the client sent */
  bookmark(): string;
}

/**
 * Wraps every D1 binding of `env` (DB, DATA_n) in a session opened on first use: with the
 * client's bookmark for that database if it sent one, else with `start`.
 */
export function openSessions<E extends object>(env: E, start: SessionStart, given: Map<string, string>): D1Sessions<E> {
  const sessions = new Map<string, D1DatabaseSession>();
  const wrapped = { ...env } as Record<string, unknown>;
  for (const [name, value] of Object.entries(env)) {
    if (!D1_BINDING_RE.test(name) || !isD1(value)) continue;
    const open = () => {
      let s = sessions.get(name);
      if (!s) {
        s = value.withSession(given.get(name) ?? start);
        sessions.set(name, s);
      }
      return s;
    };
    const db: D1Database = {
      prepare: (query) => open().prepare(query),
      batch: (statements) => open().batch(statements),
      // A session has no exec or dump; nothing in a request uses them.
      exec: () => Promise.reject(new Error(`${name}: exec is not available inside a D1 session`)),
      dump: () => Promise.reject(new Error(`${name}: dump is not available inside a D1 session`)),
      withSession: (constraint) => value.withSession(constraint),
    };
    wrapped[name] = db;
  }
  return {
    env: wrapped as E,
    bookmark() {
      const all = new Map(given);
      for (const [name, s] of sessions) {
        const b = s.getBookmark();
        if (b) all.set(name, b);
      }
      return [...all].sort(([a], [b]) => a.localeCompare(b)).map(([n, b]) => `${n}=${b}`).join(",");
    },
  };
}

function isD1(v: unknown): v is D1Database {
  return typeof (v as D1Database | undefined)?.withSession === "function";
}
