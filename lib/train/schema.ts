/**
 * A small JSON schema for configs: typed fields with defaults and bounds, unknown keys rejected,
 * every error naming the key path (`train.lr: …`).
 */
export type Field =
  | { kind: 'number'; default?: number; min?: number; max?: number; exclusiveMin?: boolean; integer?: boolean; doc?: string; optional?: boolean }
  | { kind: 'string'; default?: string; enum?: readonly string[]; doc?: string; optional?: boolean }
  | { kind: 'boolean'; default?: boolean; doc?: string; optional?: boolean }
  | { kind: 'array'; items: Field; default?: unknown[]; minItems?: number; maxItems?: number; doc?: string; optional?: boolean }
  | { kind: 'object'; fields: Record<string, Field>; optional?: boolean; doc?: string };

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
  switch (field.kind) {
    case 'number': {
      if (value === undefined) {
        if (field.default === undefined && !field.optional) problems.push(`${at}: required number is missing`);
        return field.default;
      }
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
      if (value === undefined) {
        if (field.default === undefined && !field.optional) problems.push(`${at}: required string is missing`);
        return field.default;
      }
      if (typeof value !== 'string') {
        problems.push(`${at}: expected a string, got ${describe(value)}`);
        return value;
      }
      if (field.enum && !field.enum.includes(value)) problems.push(`${at}: must be one of ${field.enum.join(', ')}; got ${JSON.stringify(value)}`);
      return value;
    }
    case 'boolean': {
      if (value === undefined) {
        if (field.default === undefined && !field.optional) problems.push(`${at}: required boolean is missing`);
        return field.default;
      }
      // The official configs use 0/1 for flags.
      if (value === 0 || value === 1) return value === 1;
      if (typeof value !== 'boolean') problems.push(`${at}: expected true/false, got ${describe(value)}`);
      return value;
    }
    case 'array': {
      if (value === undefined) {
        if (field.default === undefined && !field.optional) problems.push(`${at}: required array is missing`);
        return field.default === undefined ? undefined : [...field.default];
      }
      if (!Array.isArray(value)) {
        problems.push(`${at}: expected an array, got ${describe(value)}`);
        return value;
      }
      if (field.minItems !== undefined && value.length < field.minItems) problems.push(`${at}: needs at least ${field.minItems} entries, got ${value.length}`);
      if (field.maxItems !== undefined && value.length > field.maxItems) problems.push(`${at}: allows at most ${field.maxItems} entries, got ${value.length}`);
      return value.map((v, i) => validate(field.items, v, `${path}[${i}]`, problems));
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
      for (const k of Object.keys(src)) {
        if (!Object.hasOwn(field.fields, k)) problems.push(`${path ? `${path}.` : ''}${k}: unknown key (allowed: ${Object.keys(field.fields).join(', ')})`);
      }
      for (const [k, f] of Object.entries(field.fields)) {
        const v = validate(f, src[k], path ? `${path}.${k}` : k, problems);
        if (v !== undefined) out[k] = v;
      }
      return out;
    }
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
