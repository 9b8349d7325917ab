import { pageRouter } from "./context";

/** Ingestion pages: recent CSV uploads, bucket sources, API keys. */
export const ingestionPages = pageRouter();
