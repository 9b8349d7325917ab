import type { ModelDef } from "./types";

/**
 * Trait scores and persona membership (docs/segments.md). `user_traits` is pushed by tenants who
 * score their players elsewhere; `persona_members` is written by ferry when a segment is
 * recomputed (src/segments/) and is there to be exported, never ingested.
 */
export const personaModels: ModelDef[] = [
  {
    name: "user_traits",
    title: "User traits",
    family: "personas",
    kind: "event",
    timeField: "timestamp",
    userField: "user_id",
    userIndex: "the segment recompute pages users by id and reads their scores (src/db/shards/segments.ts)",
    description:
      "Trait scores (0-100) computed outside ferry, one row per user, category and trait; the latest score of a trait overrides the one scored from survey answers",
    fields: [
      {
        name: "timestamp",
        type: "timestamp",
        required: false,
        default: "now",
        description: "YYYY-MM-DD HH:MM:SS in UTC; the time of ingestion when omitted. The latest score of a (user, category, trait) wins",
      },
      { name: "user_id", type: "string", required: true, description: "Unique user ID" },
      { name: "category", type: "string", required: true, description: 'Trait category as in the scoring key, e.g. "openness"' },
      { name: "trait", type: "string", required: true, description: 'Trait name as in the scoring key, e.g. "Fantasy"' },
      { name: "score", type: "float", required: true, range: [0, 100], description: "Score from 0 to 100" },
    ],
  },
  {
    name: "persona_members",
    title: "Persona members",
    family: "personas",
    kind: "entity",
    derived: true,
    // One row per (segment, result, user); the key's order serves the reference's id list per persona.
    key: ["segment", "computed_at", "persona", "user_id"],
    timeField: "computed_at",
    userField: "user_id",
    userIndex: "written in bulk by the recompute, never by ingestion; user-data deletion reads it per user",
    description:
      "Which persona of a segment each user belongs to, as of the segment's last recompute (written by ferry; each recompute replaces the previous result)",
    fields: [
      { name: "segment", type: "string", required: true, description: 'Segment id ("default" or seg_...)' },
      { name: "persona", type: "integer", required: true, description: "Persona number, from 1 (the largest)" },
      { name: "user_id", type: "string", required: true, description: "Unique user ID" },
      { name: "distance", type: "float", required: true, description: "Euclidean distance from the user's trait vector to the persona's centre" },
      { name: "computed_at", type: "timestamp", required: true, description: "When the result was computed, YYYY-MM-DD HH:MM:SS in UTC" },
    ],
  },
];
