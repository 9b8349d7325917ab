import { createRouter } from "../../lib/router";
import { eventsRouter } from "./events";
import { playfabRouter } from "./playfab";
import { usersRouter } from "./users";

/** The ingestion API, mounted at `/v1` (reference/ingestion-api.md); answers `{ code, message, data }`. */
export const ingestRouter = createRouter();
ingestRouter.route("/", eventsRouter);
ingestRouter.route("/", usersRouter);
ingestRouter.route("/", playfabRouter);
