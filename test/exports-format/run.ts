import { compressorFor } from "../../src/exports/compress";
import { concatBytes } from "../../src/exports/compress/bytes";
import { ExportBody } from "../../src/exports/definition";
import { formatterFor } from "../../src/exports/format";
import type { FormatterState, Row } from "../../src/exports/types";

export function body(extra: Record<string, unknown> = {}): ExportBody {
  return ExportBody.parse({ name: "orders", model: "events", ...extra });
}

/** Round-trips state through JSON, as the runner does between queue messages. */
const persist = (s: FormatterState): FormatterState => JSON.parse(JSON.stringify(s));

/**
 * Formats (and compresses) `rows` in chunks of `chunk` rows, with a fresh formatter and
 * compressor built for every call and the state passed through JSON between calls, the
 * way the runner drives them across queue messages.
 */
export function produce(def: ExportBody, columns: string[], rows: Row[], chunk = rows.length || 1): Uint8Array {
  const out: Uint8Array[] = [];
  const inner = `${def.name}.${formatterFor(def, columns).extension}`;
  let fState: FormatterState = {};
  let cState: FormatterState = {};
  const step = (fn: (f: ReturnType<typeof formatterFor>) => Uint8Array) => {
    const f = formatterFor(def, columns);
    const c = compressorFor(def, inner);
    out.push(c.push(fn(f), cState));
    fState = persist(fState);
    cState = persist(cState);
  };
  {
    const c = compressorFor(def, inner);
    out.push(c.start(cState));
    cState = persist(cState);
  }
  step((f) => f.start(fState));
  for (let i = 0; i < rows.length; i += chunk) step((f) => f.rows(rows.slice(i, i + chunk), fState));
  step((f) => f.finish(fState));
  const c = compressorFor(def, inner);
  out.push(c.finish(cState));
  return concatBytes(out);
}

export const text = (b: Uint8Array) => new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(b);

export const concat = concatBytes;
