/**
 * A small typed JSON schema for configs: fields with a doc line, defaults and bounds; unknown keys
 * rejected; every error naming the key path (`train.lr: …`). The TypeScript type of a validated
 * config is derived from its schema (`Infer`), so the schema is the single source of the config's
 * keys, types, defaults and documentation (docs/config.md is generated from it).
 */
interface Common {
  /** One line for the generated reference. */
  doc: string;
  optional?: boolean;
}
export interface NumberField extends Common {
  kind: 'number';
  default?: number;
  min?: number;
  max?: number;
  exclusiveMin?: boolean;
  integer?: boolean;
}
export interface StringField extends Common {
  kind: 'string';
  default?: string;
  enum?: readonly string[];
}
export interface BooleanField extends Common {
  kind: 'boolean';
  default?: boolean;
}
export interface ArrayField extends Common {
  kind: 'array';
  items: Field;
  default?: readonly unknown[];
  minItems?: number;
  maxItems?: number;
}
/** Keys beyond the named fields, allowed when they end with `suffix` and `allowed()` lists them. */
export interface ExtraKeys {
  suffix: string;
  field: Field;
  allowed(): readonly string[];
  /** What the extra keys are, for errors and the reference. */
  what: string;
}
export interface ObjectField extends Common {
  kind: 'object';
  fields: Record<string, Field>;
  extra?: ExtraKeys;
}
/** The first option that validates wins (e.g. a number or a list of numbers). */
export interface UnionField extends Common {
  kind: 'union';
  options: readonly Field[];
  default?: unknown;
}
export type Field = NumberField | StringField | BooleanField | ArrayField | ObjectField | UnionField;

type Prettify<T> = { [K in keyof T]: T[K] } & {};
type IsOptional<F> = F extends { optional: true } ? (F extends { default: unknown } ? false : true) : false;
type InferFields<Fs> = Prettify<
  { -readonly [K in keyof Fs as IsOptional<Fs[K]> extends true ? never : K]: Infer<Fs[K]> } & {
    -readonly [K in keyof Fs as IsOptional<Fs[K]> extends true ? K : never]?: Infer<Fs[K]>;
  }
>;
type InferExtra<F> = F extends { extra: { suffix: infer S extends string; field: infer X } } ? Record<`${string}${S}`, Infer<X>> : unknown;

/** The TypeScript type of a value that passed `validate(field)` (defaults filled in). */
export type Infer<F> = F extends { kind: 'number' }
  ? number
  : F extends { kind: 'string'; enum: readonly (infer E)[] }
    ? E
    : F extends { kind: 'string' }
      ? string
      : F extends { kind: 'boolean' }
        ? boolean
        : F extends { kind: 'array'; items: infer I }
          ? Infer<I>[]
          : F extends { kind: 'union'; options: readonly (infer O)[] }
            ? Infer<O>
            : F extends { kind: 'object'; fields: infer Fs }
              ? InferFields<Fs> & InferExtra<F>
              : never;

// Builders keep the literal types (enums, `optional: true`) that `Infer` reads.
export const num = <const O extends Omit<NumberField, 'kind'>>(o: O): O & { kind: 'number' } => ({ kind: 'number', ...o });
export const str = <const O extends Omit<StringField, 'kind'>>(o: O): O & { kind: 'string' } => ({ kind: 'string', ...o });
export const bool = <const O extends Omit<BooleanField, 'kind'>>(o: O): O & { kind: 'boolean' } => ({ kind: 'boolean', ...o });
export const arr = <const O extends Omit<ArrayField, 'kind'>>(o: O): O & { kind: 'array' } => ({ kind: 'array', ...o });
export const obj = <const O extends Omit<ObjectField, 'kind'>>(o: O): O & { kind: 'object' } => ({ kind: 'object', ...o });
export const union = <const O extends Omit<UnionField, 'kind'>>(o: O): O & { kind: 'union' } => ({ kind: 'union', ...o });

export class ConfigError extends Error {
  constructor(readonly problems: string[], source?: string) {
    super(`${source ? `${source}: ` : ''}invalid config:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

function describe(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? `an array` : v === null ? 'null' : `${typeof v} ${JSON.stringify(v)}`;
}

/** Validates `value` against `field`, filling defaults; appends problems with their key path. */
export function validate(field: Field, value: unknown, path: string, problems: string[]): unknown {
  const at = path || '(root)';
  if (value === undefined && field.kind !== 'object') {
    const dflt = (field as { default?: unknown }).default;
    if (dflt === undefined && !field.optional) problems.push(`${at}: required ${field.kind === 'union' ? 'value' : field.kind} is missing`);
    return Array.isArray(dflt) ? [...dflt] : dflt;
  }
  switch (field.kind) {
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        problems.push(`${at}: expected a number, got ${describe(value)}`);
        return value;
      }
      if (field.integer && !Number.isInteger(value)) problems.push(`${at}: expected an integer, got ${value}`);
      if (field.min !== undefined && (field.exclusiveMin ? value <= field.min : value < field.min)) {
        problems.push(`${at}: must be ${field.exclusiveMin ? '>' : '≥'} ${field.min}, got ${value}`);
      }
      if (field.max !== undefined && value > field.max) problems.push(`${at}: must be ≤ ${field.max}, got ${value}`);
      return value;
    }
    case 'string': {
      if (typeof value !== 'string') {
        problems.push(`${at}: expected a string, got ${describe(value)}`);
        return value;
      }
      if (field.enum && !field.enum.includes(value)) problems.push(`${at}: must be one of ${field.enum.join(', ')}; got ${JSON.stringify(value)}`);
      return value;
    }
    case 'boolean': {
      // The official configs use 0/1 for flags.
      if (value === 0 || value === 1) return value === 1;
      if (typeof value !== 'boolean') problems.push(`${at}: expected true/false, got ${describe(value)}`);
      return value;
    }
    case 'array': {
      if (!Array.isArray(value)) {
        problems.push(`${at}: expected an array, got ${describe(value)}`);
        return value;
      }
      if (field.minItems !== undefined && value.length < field.minItems) problems.push(`${at}: needs at least ${field.minItems} entries, got ${value.length}`);
      if (field.maxItems !== undefined && value.length > field.maxItems) problems.push(`${at}: allows at most ${field.maxItems} entries, got ${value.length}`);
      return value.map((v, i) => validate(field.items, v, `${path}[${i}]`, problems));
    }
    case 'union': {
      let first: string[] | null = null;
      for (const option of field.options) {
        const own: string[] = [];
        const out = validate(option, value, path, own);
        if (own.length === 0) return out;
        first ??= own;
      }
      problems.push(`${at}: expected ${field.options.map(typeName).join(' or ')}, got ${describe(value)}${first?.length ? ` (${first[0].replace(`${at}: `, '')})` : ''}`);
      return value;
    }
    case 'object': {
      if (value === undefined) {
        if (field.optional) return undefined;
        value = {};
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        problems.push(`${at}: expected an object, got ${describe(value)}`);
        return value;
      }
      const src = value as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      const extra = field.extra;
      const allowedExtra = extra ? new Set(extra.allowed()) : null;
      for (const k of Object.keys(src)) {
        const key = path ? `${path}.${k}` : k;
        // Own keys only: inherited names (constructor, __proto__) are not fields.
        if (Object.hasOwn(field.fields, k)) continue;
        if (extra && k.endsWith(extra.suffix)) {
          if (allowedExtra!.has(k)) {
            const v = validate(extra.field, src[k], key, problems);
            if (v !== undefined) out[k] = v;
          } else problems.push(`${key}: unknown ${extra.what} (known: ${[...allowedExtra!].join(', ')})`);
          continue;
        }
        problems.push(`${key}: unknown key (allowed: ${[...Object.keys(field.fields), ...(extra ? [`*${extra.suffix}`] : [])].join(', ')})`);
      }
      for (const [k, f] of Object.entries(field.fields)) {
        const v = validate(f, src[k], path ? `${path}.${k}` : k, problems);
        if (v !== undefined) out[k] = v;
      }
      return out;
    }
  }
}

/** The type of a field in words ("integer ≥ 1", "one of a, b", "list of …"). */
export function typeName(f: Field): string {
  switch (f.kind) {
    case 'number': {
      const bound = f.min !== undefined ? ` ${f.exclusiveMin ? '>' : '≥'} ${f.min}` : '';
      const upper = f.max !== undefined ? `${bound ? ',' : ''} ≤ ${f.max}` : '';
      return `${f.integer ? 'integer' : 'number'}${bound}${upper}`;
    }
    case 'string':
      return f.enum ? `one of ${f.enum.map((e) => `\`${e}\``).join(', ')}` : 'string';
    case 'boolean':
      return 'boolean';
    case 'array': {
      const n = f.minItems !== undefined && f.minItems === f.maxItems ? `${f.minItems} × ` : '';
      return `list of ${n}${typeName(f.items)}`;
    }
    case 'union':
      return f.options.map(typeName).join(' or ');
    case 'object':
      return 'object';
  }
}

/** Applies `key.path=value` overrides (value parsed as JSON when possible) to a raw config. */
export function applyOverrides(raw: Record<string, unknown>, sets: string[]): Record<string, unknown> {
  const out = structuredClone(raw);
  for (const s of sets) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new ConfigError([`--set ${s}: expected key.path=value`]);
    const keys = s.slice(0, eq).split('.');
    // These would reach Object.prototype instead of a config key.
    const proto = keys.find((k) => k === '__proto__' || k === 'constructor' || k === 'prototype');
    if (proto !== undefined) throw new ConfigError([`--set ${s}: '${proto}' is not a config key`]);
    const text = s.slice(eq + 1);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = text;
    }
    let node = out as Record<string, unknown>;
    for (const k of keys.slice(0, -1)) {
      if (node[k] === undefined) node[k] = {};
      if (typeof node[k] !== 'object' || node[k] === null) throw new ConfigError([`--set ${s}: ${k} is not an object`]);
      node = node[k] as Record<string, unknown>;
    }
    node[keys[keys.length - 1]] = value;
  }
  return out;
}
