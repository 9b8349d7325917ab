/** bench/lib/upload.mjs, for the TypeScript tests that use it. */
export function chunkedUpload(
  url: string,
  headers: Record<string, string>,
  total: number,
  csv?: { header?: string; line?: string },
): Promise<{ status: number; sent: number; body: string }>;
