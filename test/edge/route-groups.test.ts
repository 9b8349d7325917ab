import { OpenAPIHono } from "@hono/zod-openapi";
import { describe, expect, it } from "vitest";
import type { AppEnv } from "../../src/app-env";
import { ROUTE_GROUPS, routeGroupOf } from "../../src/app";

/**
 * The API builds its routes in groups chosen by path prefix (src/app.ts, ROUTE_GROUPS): every
 * documented path of a group must be routed to that group, or it would be a 404 in production.
 */
describe("route groups", () => {
  it("routes every path a group documents to that group", async () => {
    for (const group of ROUTE_GROUPS) {
      const app = new OpenAPIHono<AppEnv>();
      (await group.load())(app);
      const paths = Object.keys(app.getOpenAPI31Document({ openapi: "3.1.0", info: { title: "t", version: "1" } }).paths ?? {});
      // the back office (/app) serves pages and documents none
      if (group.name !== "app") expect(paths.length, group.name).toBeGreaterThan(0);
      for (const template of paths) expect(routeGroupOf(template.replace(/\{[^}]+\}/g, "x1"))?.name, template).toBe(group.name);
    }
  });

  it("CSV uploads and their status are a group of their own: a JSON batch does not load the CSV parsers, nor an upload the JSON routes", () => {
    for (const path of ["/v1/kpis/csv", "/v1/survey-data/csv", "/v1/user-traits/csv", "/v1/ingestions/ing_1"]) expect(routeGroupOf(path)?.name, path).toBe("csv");
    for (const path of ["/v1/kpis", "/v1/survey-data", "/v1/user-traits", "/v1/records/members", "/v1/actions"]) expect(routeGroupOf(path)?.name, path).toBe("v1");
  });
});
