/**
 * A strict decoder in the manner of the typed SessionM clients of issue #14 (a Go middleware's
 * `json.Unmarshal` into non-pointer strings, a C# POS's non-nullable `int`, a Java Spring DTO with
 * `@JsonSetter(nulls = FAIL)`): a field is either absent or of its declared type, never `null`.
 * Each compat test declares exactly the fields its client reads.
 */

export type FieldType = 'string' | 'int' | 'number' | 'boolean' | 'object' | 'array' | 'core_time';

/** `required` fields must be present; `optional` ones may be absent but never null. */
export interface Shape {
  required?: Record<string, FieldType>;
  optional?: Record<string, FieldType>;
}

const CORE_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

function check(path: string, v: unknown, t: FieldType): string | undefined {
  const ok =
    t === 'string'
      ? typeof v === 'string'
      : t === 'core_time'
        ? typeof v === 'string' && CORE_TIME.test(v)
        : t === 'int'
          ? Number.isInteger(v)
          : t === 'number'
            ? typeof v === 'number'
            : t === 'boolean'
              ? typeof v === 'boolean'
              : t === 'array'
                ? Array.isArray(v)
                : v !== null && typeof v === 'object' && !Array.isArray(v);
  return ok ? undefined : `${path}: expected ${t}, got ${JSON.stringify(v)}`;
}

/** The decoding errors of `value` against `shape` (empty when a typed client would accept it). */
export function decode(path: string, value: unknown, shape: Shape): string[] {
  if (value === null || typeof value !== 'object') return [`${path}: expected an object`];
  const o = value as Record<string, unknown>;
  const errors: string[] = [];
  for (const [k, t] of Object.entries(shape.required ?? {})) {
    if (!(k in o)) errors.push(`${path}.${k}: missing`);
    else errors.push(...[check(`${path}.${k}`, o[k], t)].filter((e): e is string => !!e));
  }
  for (const [k, t] of Object.entries(shape.optional ?? {})) {
    if (k in o) errors.push(...[check(`${path}.${k}`, o[k], t)].filter((e): e is string => !!e));
  }
  return errors;
}

/** Every path in `value` that holds `null`. */
export function nullPaths(value: unknown, path = '$'): string[] {
  if (value === null) return [path];
  if (Array.isArray(value)) return value.flatMap((v, i) => nullPaths(v, `${path}[${i}]`));
  if (typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => nullPaths(v, `${path}.${k}`));
  }
  return [];
}
