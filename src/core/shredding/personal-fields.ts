// Which fields of an event schema hold personal data: those marked `personal(...)` (or `.meta({ personal: true })`),
// at the top level of an object schema or inside nested objects, through optional / nullable / default wrappers.
import { z } from 'zod';

/** Marks a field personal: `name: personal(z.string())`, the same as `.meta({ personal: true })`. */
export function personal<S extends z.ZodType>(schema: S): S {
  return schema.meta({ personal: true }) as S;
}

// Wrappers whose inner schema is the field's value (a default or an optional changes nothing about what it holds).
const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'nonoptional', 'catch']);

type Def = { type: string; innerType?: z.ZodType; shape?: Record<string, z.ZodType>; in?: z.ZodType };
const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

function isMarked(schema: z.ZodType): boolean {
  for (let s: z.ZodType | undefined = schema; s !== undefined; ) {
    if ((z.globalRegistry.get(s) as { personal?: unknown } | undefined)?.personal === true) return true;
    const def = defOf(s);
    s = WRAPPERS.has(def.type) ? def.innerType : def.type === 'pipe' ? def.in : undefined;
  }
  return false;
}

function objectShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  for (let s: z.ZodType | undefined = schema; s !== undefined; ) {
    const def = defOf(s);
    if (def.type === 'object') return def.shape;
    s = WRAPPERS.has(def.type) ? def.innerType : def.type === 'pipe' ? def.in : undefined;
  }
  return undefined;
}

/** The paths (keys from the top) of the fields `schema` marks personal; `[]` when none. */
export function personalPaths(schema: z.ZodType): string[][] {
  const paths: string[][] = [];
  const walk = (s: z.ZodType, path: string[]) => {
    const shape = objectShape(s);
    if (shape === undefined) return;
    for (const [key, field] of Object.entries(shape)) {
      if (isMarked(field)) paths.push([...path, key]);
      else walk(field, [...path, key]);
    }
  };
  if (isMarked(schema)) return [[]];
  walk(schema, []);
  return paths;
}
