const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

/** A random lowercase alphanumeric string; `length` 20 gives ~103 bits of entropy. */
export function randomId(length = 20): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let out = "";
  for (const b of bytes) out += ALPHABET[b % 36];
  return out;
}

/** Prefixed text ids: `ten_...`, `cli_...`, `key_...`, `exp_...`, `run_...`. */
export function newId(prefix: string): string {
  return `${prefix}_${randomId(20)}`;
}
