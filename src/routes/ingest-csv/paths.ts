/**
 * The CSV ingestion group's paths, kept apart from its router so src/app.ts can route to the group
 * without loading it (ROUTE_GROUPS): the uploads `POST /v1/<upload>/csv` and `GET /v1/ingestions/{id}`.
 */
export const CSV_UPLOADS = ["kpis", "survey-data", "user-traits"] as const;
export type CsvUpload = (typeof CSV_UPLOADS)[number];

export const csvUploadPath = (upload: CsvUpload) => `/v1/${upload}/csv`;

export const CSV_PATHS: readonly string[] = [...CSV_UPLOADS.map(csvUploadPath), "/v1/ingestions"];
