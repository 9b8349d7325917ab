import { SELF } from "cloudflare:test";

export const ADMIN = { Authorization: "Bearer test-admin-token", "Content-Type": "application/json" };
export const BASE = "http://ferry.test";

export async function call(
  method: string,
  path: string,
  opts: { body?: unknown; headers?: Record<string, string>; token?: string } = {},
) {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  let body: BodyInit | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
    headers["Content-Type"] ??= "application/json";
  }
  const res = await SELF.fetch(`${BASE}${path}`, { method, headers, body });
  const text = await res.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: res.status, headers: res.headers, json, text };
}

export async function createTenant(name = "acme"): Promise<{ id: string; name: string }> {
  const r = await call("POST", "/api/1/admin/tenants", { headers: ADMIN, body: { name } });
  if (r.status !== 201) throw new Error(`createTenant: ${r.status} ${r.text}`);
  return r.json;
}

export async function createClient(
  tenantId: string,
  permissions: string[] = ["automated-exports-view", "exports-manage", "ingest"],
): Promise<{ client_id: string; client_secret: string; permissions: string[] }> {
  const r = await call("POST", `/api/1/admin/tenants/${tenantId}/clients`, {
    headers: ADMIN,
    body: { name: "test client", permissions },
  });
  if (r.status !== 201) throw new Error(`createClient: ${r.status} ${r.text}`);
  return r.json;
}

export async function createApiKey(tenantId: string): Promise<{ id: string; api_key: string }> {
  const r = await call("POST", `/api/1/admin/tenants/${tenantId}/api-keys`, { headers: ADMIN, body: { name: "k" } });
  if (r.status !== 201) throw new Error(`createApiKey: ${r.status} ${r.text}`);
  return r.json;
}

export async function getToken(client: { client_id: string; client_secret: string }): Promise<string> {
  const r = await call("POST", "/api/1/oauth2/access_token", {
    body: { grant_type: "client_credentials", client_id: client.client_id, client_secret: client.client_secret },
  });
  if (r.status !== 200) throw new Error(`getToken: ${r.status} ${r.text}`);
  return r.json.access_token;
}

/** A tenant with a client (all permissions), its token and an API key. */
export async function setupTenant(name = "acme", permissions?: string[]) {
  const tenant = await createTenant(name);
  const client = await createClient(tenant.id, permissions);
  const token = await getToken(client);
  const key = await createApiKey(tenant.id);
  return { tenant, client, token, apiKey: key.api_key, apiKeyId: key.id };
}

/** Polls `f` until it returns a value (queue work runs in the background), or fails naming `what`. */
export async function waitFor<T>(f: () => Promise<T | undefined>, what: string, tries = 600): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Ingests records of one model through POST /v1/records/:model; throws unless 201. */
export async function ingestRecords(apiKey: string, model: string, rows: Record<string, unknown>[]): Promise<void> {
  const r = await call("POST", `/v1/records/${model}`, { token: apiKey, body: { [model]: rows } });
  if (r.status !== 201) throw new Error(`ingestRecords ${model}: ${r.status} ${r.text}`);
}
