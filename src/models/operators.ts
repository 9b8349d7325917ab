import type { FilterOp } from "../exports/definition";
import type { FieldType } from "./types";

/**
 * Which filter operators and aggregations each field type takes. `param_value` is one key of a
 * params field (`action_params.enemy_id`), compared as text.
 */
export type ValueKind = FieldType | "param_value";

const TEXT_OPS = ["eq", "neq", "in", "not_in", "contains", "not_contains", "starts_with", "ends_with", "is_empty", "is_not_empty"] as const;
const NUMBER_OPS = ["eq", "neq", "gt", "gte", "lt", "lte", "between", "in", "not_in", "is_empty", "is_not_empty"] as const;
const TIME_OPS = ["eq", "neq", "gt", "gte", "lt", "lte", "between", "is_empty", "is_not_empty"] as const;

export const OPERATORS_BY_TYPE: Record<ValueKind, readonly FilterOp[]> = {
  string: TEXT_OPS,
  param_value: TEXT_OPS,
  integer: NUMBER_OPS,
  float: NUMBER_OPS,
  boolean: ["eq", "neq", "is_empty", "is_not_empty"],
  timestamp: TIME_OPS,
  date: TIME_OPS,
  params: ["is_empty", "is_not_empty"],
};

const ALL_AGGREGATIONS = ["group", "count", "sum", "avg", "min", "max"] as const;
const ORDERED = ["group", "count", "min", "max"] as const;

export const AGGREGATIONS_BY_TYPE: Record<ValueKind, readonly string[]> = {
  string: ORDERED,
  param_value: ALL_AGGREGATIONS,
  integer: ALL_AGGREGATIONS,
  float: ALL_AGGREGATIONS,
  boolean: ALL_AGGREGATIONS,
  timestamp: ORDERED,
  date: ORDERED,
  params: ["count"],
};
