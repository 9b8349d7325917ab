import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import { createRouter } from "../../lib/router";
import { notFound } from "../../lib/errors";
import { requireAdmin } from "../../middleware/auth";
import { retireSigningKey, rotateSigningKey, listSigningKeys } from "../../tenants/signing-keys";
import { ApiError } from "../../lib/errors";
import type { Services } from "../../services";
import {
  PERMISSIONS,
  createApiKey,
  createClient,
  createTenant,
  getTenant,
  listApiKeys,
  listClients,
  listTenants,
  revokeApiKey,
  revokeClient,
  setTenantRateLimits,
  updateClient,
} from "../../tenants/tenants";
import { MAX_TOKEN_TTL_SECONDS, tokenTtl } from "../../tenants/tokens";
import { shardOverview } from "../../tenants/shards";
import { FREEZE_SECONDS, startMove, tenantMove } from "../../tenants/moves";
import { RATE_LIMIT_TIERS, TENANT_MOVE_STATES, USER_ROLES, type Tenant as TenantRow } from "../../db/schema";
import { TIER_LIMITS, TOKEN_LIMITS, effectiveRateLimits } from "../../tenants/rate-limits";
import { inviteUser } from "../../users/users";

const security = [{ adminToken: [] }];
const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});
const body = <T extends z.ZodType>(schema: T) => ({ body: { content: { "application/json": { schema } }, required: true } });

const Name = z.string().trim().min(1, "name must not be empty").max(200);
const Tenant = z.object({ id: z.string(), name: z.string(), shard: z.number().int(), created_at: z.number().int() });
const TenantParam = z.object({ id: z.string().openapi({ example: "ten_..." }) });

const Tier = z.enum(RATE_LIMIT_TIERS);
const RateLimits = z.object({ ingest: Tier, api: Tier }).openapi({
  description: "Rate-limit tier per scope: ingest = per API key on /v1, api = per client on /api/1 (docs/rate-limits.md)",
});
const MoveView = z
  .object({
    id: z.string(),
    from_shard: z.number().int(),
    to_shard: z.number().int(),
    state: z.enum(TENANT_MOVE_STATES).openapi({
      description:
        "copying: rows are copied while writes go on; frozen: the tenant's writes answer 503 with Retry-After (at most FREEZE_SECONDS) while the last changes are copied and verified; switched: the tenant is served by to_shard and the old copy is being deleted; failing: the move failed before the switch (error says why), the tenant reads and writes on from_shard, and the partial copy on to_shard is being deleted; done; failed (error says why; the tenant stays where it was unless switched_at is set)",
    }),
    phase: z.string().openapi({ description: "the mover's step: count, clear, copy, drain, freeze, catchup, catchdrain, verify, switch, wait, delete; cleanup after a failure" }),
    rows_copied: z.number().int(),
    rows_total: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "the tenant's rows on from_shard, counted by the move's first link; null until then (the POST that starts the move reads none of the tenant's rows)" }),
    rows_deleted: z.number().int().openapi({ description: "rows of the old copy deleted so far" }),
    progress: z.number().openapi({ description: "0 to 1" }),
    freeze_until: z.number().int().nullable(),
    switched_at: z.number().int().nullable(),
    error: z.string().nullable(),
    created_at: z.number().int(),
    finished_at: z.number().int().nullable(),
  })
  .openapi("TenantMove");
const TenantView = Tenant.extend({
  rate_limits: RateLimits,
  move: MoveView.nullable().openapi({ description: "the tenant's latest move between shards (null: never moved)" }),
});
const tenantView = (t: TenantRow) => ({
  id: t.id,
  name: t.name,
  shard: t.shard,
  created_at: t.created_at,
  rate_limits: effectiveRateLimits(t.rate_limits),
});

export const adminRouter = createRouter();
adminRouter.use("*", requireAdmin());

adminRouter.openapi(
  createRoute({
    method: "post",
    path: "/tenants",
    tags: ["admin"],
    summary: "Create a tenant (assigned to a data shard)",
    security,
    request: body(z.object({ name: Name })),
    responses: { 201: json(z.object({ id: z.string(), name: z.string() }), "Created") },
  }),
  async (c) => {
    const t = await createTenant(c.var.services, c.req.valid("json").name);
    return c.json({ id: t.id, name: t.name }, 201);
  },
);

adminRouter.openapi(
  createRoute({
    method: "get",
    path: "/tenants",
    tags: ["admin"],
    summary: "List tenants",
    security,
    responses: { 200: json(z.object({ tenants: z.array(Tenant) }), "Tenants") },
  }),
  async (c) => {
    const rows = await listTenants(c.var.services);
    return c.json({ tenants: rows.map((t) => ({ id: t.id, name: t.name, shard: t.shard, created_at: t.created_at })) }, 200);
  },
);

adminRouter.openapi(
  createRoute({
    method: "get",
    path: "/tenants/{id}",
    tags: ["admin"],
    summary: "A tenant: its data shard and rate-limit tiers",
    security,
    request: { params: TenantParam },
    responses: { 200: json(TenantView, "The tenant"), 404: { description: "Unknown tenant" } },
  }),
  async (c) => {
    const t = await tenantOr404(c.var.services, c.req.valid("param").id);
    return c.json({ ...tenantView(t), move: await tenantMove(c.var.services, t.id) }, 200);
  },
);

adminRouter.openapi(
  createRoute({
    method: "post",
    path: "/tenants/{id}/move",
    tags: ["admin"],
    summary: "Move a tenant's data to another shard, online",
    description: `Copies every row of the tenant to \`shard\` while ingestion goes on, freezes the tenant's writes (503 with Retry-After) for at most ${FREEZE_SECONDS} seconds to copy the last changes and verify every table, switches the tenant to the new shard, and deletes the old copy. Answers at once, without reading the tenant's rows: \`rows_total\` is null until the move's first link has counted them. Follow it on GET /api/1/admin/tenants/{id} (\`move\`). A move that fails before the switch leaves the tenant where it was and deletes its partial copy on \`shard\` (state failing, then failed). docs/architecture.md, Shards.`,
    security,
    request: { params: TenantParam, ...body(z.object({ shard: z.number().int().min(0).openapi({ example: 1 }) }).strict()) },
    responses: {
      202: json(MoveView, "The move started (state copying, phase count, rows_total null)"),
      400: { description: "Unknown shard, or the tenant's own" },
      404: { description: "Unknown tenant" },
      409: { description: "The tenant is already being moved" },
    },
  }),
  async (c) => c.json(await startMove(c.var.services, c.req.valid("param").id, c.req.valid("json").shard), 202),
);

const ShardView = z.object({
  shard: z.number().int(),
  binding: z.string(),
  tenants: z.number().int(),
  size_bytes: z.number().nullable().openapi({ description: "database size as D1 reports it (meta.size_after)" }),
  share: z.number().nullable().openapi({ description: "size_bytes / limit_bytes" }),
  alert: z.boolean().openapi({ description: "past alert_share: the cron alerts the operator (once a day)" }),
  rows: z.number().int(),
  tables: z.record(z.string(), z.number().int()).openapi({ description: "rows per table" }),
});

adminRouter.openapi(
  createRoute({
    method: "get",
    path: "/shards",
    tags: ["admin"],
    summary: "The data shards: size, tenants and rows per table",
    description:
      "Counting rows reads every row of every shard (D1 bills rows read): an operator's look, not something to poll. New tenants go to the shard with the most room (docs/architecture.md, Shards).",
    security,
    responses: {
      200: json(z.object({ limit_bytes: z.number(), alert_share: z.number(), shards: z.array(ShardView) }), "Shards"),
    },
  }),
  async (c) => c.json(await shardOverview(c.var.services), 200),
);

adminRouter.openapi(
  createRoute({
    method: "patch",
    path: "/tenants/{id}",
    tags: ["admin"],
    summary: "Change a tenant's settings: its rate-limit tiers",
    description:
      "`rate_limits` replaces the tenant's tiers; a scope left out goes back to `standard`. Tiers are bindings in wrangler.toml (`GET /api/1/admin/rate-limits` lists their limits). Takes effect within 30 seconds in every isolate.",
    security,
    request: {
      params: TenantParam,
      ...body(z.strictObject({ rate_limits: z.strictObject({ ingest: Tier.optional(), api: Tier.optional() }) })),
    },
    responses: { 200: json(TenantView, "The tenant"), 404: { description: "Unknown tenant" } },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const row = await setTenantRateLimits(c.var.services, id, c.req.valid("json").rate_limits);
    if (!row) throw notFound("Tenant");
    return c.json(tenantView(row), 200);
  },
);

const LimitView = z.object({ binding: z.string(), limit: z.number().int(), period: z.number().int() });

adminRouter.openapi(
  createRoute({
    method: "get",
    path: "/rate-limits",
    tags: ["admin"],
    summary: "The rate-limit tiers and the token endpoint's limits (requests per period in seconds)",
    security,
    responses: {
      200: json(
        z.object({
          tiers: z.record(z.string(), z.record(z.string(), LimitView.nullable())),
          token: z.object({ client: LimitView, ip: LimitView }),
        }),
        "Limits",
      ),
    },
  }),
  (c) =>
    c.json(
      {
        tiers: {
          ingest: { ...TIER_LIMITS.ingest, unlimited: null },
          api: { ...TIER_LIMITS.api, unlimited: null },
        },
        token: TOKEN_LIMITS,
      },
      200,
    ),
);

async function tenantOr404(s: Services, id: string) {
  const t = await getTenant(s, id);
  if (!t) throw notFound("Tenant");
  return t;
}

const TokenTtl = z
  .number()
  .int("token_ttl_seconds: a whole number of seconds")
  .min(60, "token_ttl_seconds: at least 60")
  .max(MAX_TOKEN_TTL_SECONDS, `token_ttl_seconds: at most ${MAX_TOKEN_TTL_SECONDS} (184 days)`)
  .openapi({ description: `Lifetime of this client's access tokens (expires_in), 60 to ${MAX_TOKEN_TTL_SECONDS} s; default TOKEN_TTL_SECONDS (3600)`, example: MAX_TOKEN_TTL_SECONDS });
const ClientView = z.object({
  client_id: z.string(),
  name: z.string(),
  permissions: z.array(z.string()),
  token_ttl_seconds: z.number().int().openapi({ description: "Lifetime of the client's access tokens, its own or the default" }),
  created_at: z.number(),
  revoked_at: z.number().nullable(),
});
const clientView = (s: Services, r: { id: string; name: string; permissions: string[]; token_ttl_seconds: number | null; created_at: number; revoked_at: number | null }) => ({
  client_id: r.id,
  name: r.name,
  permissions: r.permissions,
  token_ttl_seconds: r.token_ttl_seconds ?? tokenTtl(s.env),
  created_at: r.created_at,
  revoked_at: r.revoked_at,
});

adminRouter.openapi(
  createRoute({
    method: "post",
    path: "/tenants/{id}/clients",
    tags: ["admin"],
    summary: "Create an API client (client-credentials); the secret is shown once",
    security,
    request: {
      params: TenantParam,
      ...body(
        z.object({
          name: Name,
          permissions: z.array(z.enum(PERMISSIONS)).min(1, "give at least one permission"),
          token_ttl_seconds: TokenTtl.optional(),
        }),
      ),
    },
    responses: {
      201: json(
        z.object({ client_id: z.string(), client_secret: z.string(), permissions: z.array(z.string()), token_ttl_seconds: z.number().int() }),
        "Created",
      ),
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    await tenantOr404(c.var.services, id);
    const { name, permissions, token_ttl_seconds } = c.req.valid("json");
    const client = await createClient(c.var.services, id, name, [...new Set(permissions)], token_ttl_seconds ?? null);
    return c.json(
      {
        client_id: client.id,
        client_secret: client.secret,
        permissions: client.permissions,
        token_ttl_seconds: client.token_ttl_seconds ?? tokenTtl(c.var.services.env),
      },
      201,
    );
  },
);

adminRouter.openapi(
  createRoute({
    method: "patch",
    path: "/tenants/{id}/clients/{client_id}",
    tags: ["admin"],
    summary: "Rename a client or change its token lifetime (null = the default); a shorter lifetime refuses its longer tokens at once",
    security,
    request: {
      params: TenantParam.extend({ client_id: z.string() }),
      ...body(z.strictObject({ name: Name.optional(), token_ttl_seconds: TokenTtl.nullable().optional() })),
    },
    responses: { 200: json(ClientView, "Updated") },
  }),
  async (c) => {
    const { id, client_id } = c.req.valid("param");
    const client = await updateClient(c.var.services, id, client_id, c.req.valid("json"));
    if (!client) throw notFound("Client");
    return c.json(clientView(c.var.services, client), 200);
  },
);

adminRouter.openapi(
  createRoute({
    method: "get",
    path: "/tenants/{id}/clients",
    tags: ["admin"],
    summary: "List a tenant's API clients (never their secrets)",
    security,
    request: { params: TenantParam },
    responses: {
      200: json(
        z.object({
          clients: z.array(ClientView),
        }),
        "Clients",
      ),
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    await tenantOr404(c.var.services, id);
    const rows = await listClients(c.var.services, id);
    return c.json(
      {
        clients: rows.map((r) => clientView(c.var.services, r)),
      },
      200,
    );
  },
);

adminRouter.openapi(
  createRoute({
    method: "delete",
    path: "/tenants/{id}/clients/{client_id}",
    tags: ["admin"],
    summary: "Revoke an API client: its tokens stop working",
    security,
    request: { params: TenantParam.extend({ client_id: z.string() }) },
    responses: { 204: { description: "Revoked" } },
  }),
  async (c) => {
    const { id, client_id } = c.req.valid("param");
    if (!(await revokeClient(c.var.services, id, client_id))) throw notFound("Client");
    return c.body(null, 204);
  },
);

adminRouter.openapi(
  createRoute({
    method: "post",
    path: "/tenants/{id}/api-keys",
    tags: ["admin"],
    summary: "Create an ingestion API key; the key is shown once",
    security,
    request: { params: TenantParam, ...body(z.object({ name: Name })) },
    responses: { 201: json(z.object({ id: z.string(), api_key: z.string() }), "Created") },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    await tenantOr404(c.var.services, id);
    const key = await createApiKey(c.var.services, id, c.req.valid("json").name);
    return c.json({ id: key.id, api_key: key.apiKey }, 201);
  },
);

adminRouter.openapi(
  createRoute({
    method: "get",
    path: "/tenants/{id}/api-keys",
    tags: ["admin"],
    summary: "List a tenant's API keys (never the keys themselves)",
    security,
    request: { params: TenantParam },
    responses: {
      200: json(
        z.object({
          api_keys: z.array(
            z.object({ id: z.string(), name: z.string(), created_at: z.number(), revoked_at: z.number().nullable() }),
          ),
        }),
        "Keys",
      ),
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    await tenantOr404(c.var.services, id);
    const rows = await listApiKeys(c.var.services, id);
    return c.json(
      { api_keys: rows.map((r) => ({ id: r.id, name: r.name, created_at: r.created_at, revoked_at: r.revoked_at })) },
      200,
    );
  },
);

adminRouter.openapi(
  createRoute({
    method: "delete",
    path: "/tenants/{id}/api-keys/{key_id}",
    tags: ["admin"],
    summary: "Revoke an API key",
    security,
    request: { params: TenantParam.extend({ key_id: z.string() }) },
    responses: { 204: { description: "Revoked" } },
  }),
  async (c) => {
    const { id, key_id } = c.req.valid("param");
    if (!(await revokeApiKey(c.var.services, id, key_id))) throw notFound("API key");
    return c.body(null, 204);
  },
);

adminRouter.openapi(
  createRoute({
    method: "post",
    path: "/tenants/{id}/users",
    tags: ["admin"],
    summary: "Invite a back-office user (signs in at /app); the password is shown once",
    description: "Emails are unique across tenants: the sign-in form asks only for email and password. Roles: admin, editor, viewer (docs/backoffice.md).",
    security,
    request: {
      params: TenantParam,
      ...body(z.object({ email: z.email("email: a valid email address").max(254), role: z.enum(USER_ROLES) })),
    },
    responses: {
      201: json(z.object({ id: z.string(), email: z.string(), role: z.enum(USER_ROLES), password: z.string() }), "Created"),
      409: { description: "A user with this email already exists" },
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    await tenantOr404(c.var.services, id);
    const { email, role } = c.req.valid("json");
    return c.json(await inviteUser(c.var.services, id, email, role), 201);
  },
);

const SigningKey = z.object({
  kid: z.string(),
  alg: z.string(),
  status: z.enum(["active", "previous", "retired"]),
  created_at: z.number(),
  retired_at: z.number().nullable(),
});

adminRouter.openapi(
  createRoute({
    method: "get",
    path: "/signing-keys",
    tags: ["admin"],
    summary: "List JWT signing keys",
    security,
    responses: { 200: json(z.object({ keys: z.array(SigningKey) }), "Keys") },
  }),
  async (c) => c.json({ keys: await listSigningKeys(c.var.services) }, 200),
);

adminRouter.openapi(
  createRoute({
    method: "post",
    path: "/signing-keys/rotate",
    tags: ["admin"],
    summary: "Rotate the token signing key; the previous key keeps verifying until retired",
    security,
    responses: { 201: json(z.object({ kid: z.string() }), "New active key") },
  }),
  async (c) => c.json({ kid: await rotateSigningKey(c.var.services) }, 201),
);

adminRouter.openapi(
  createRoute({
    method: "post",
    path: "/signing-keys/{kid}/retire",
    tags: ["admin"],
    summary: "Retire a previous signing key: tokens it signed stop verifying",
    security,
    request: { params: z.object({ kid: z.string() }) },
    responses: { 204: { description: "Retired" } },
  }),
  async (c) => {
    const outcome = await retireSigningKey(c.var.services, c.req.valid("param").kid);
    if (outcome === "not_found") throw notFound("Signing key");
    if (outcome === "active") throw new ApiError("conflict", "The active key cannot be retired; rotate first");
    return c.body(null, 204);
  },
);
