/** Epoch seconds as in the reference responses: `2024-06-20T09:35:57+00:00`. */
export function isoSeconds(s: number | null): string | null {
  return s === null ? null : new Date(s * 1000).toISOString().replace(/\.\d{3}Z$/, "+00:00");
}
