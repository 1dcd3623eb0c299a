import type { AnyTRPCProcedure } from '@trpc/server';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The input a resumed subscription is called with.
 *
 * tRPC hands the resume id to procedures as `input.lastEventId`, merging it into the
 * client's input. Done blindly, that breaks every procedure whose schema does not allow
 * the extra key: a `.strict()` object, `z.void()`, a primitive — each reconnect then fails
 * with BAD_REQUEST. So the merged input is offered only when the procedure's own input
 * parsers accept it; otherwise the procedure gets the input the client sent.
 * Parsers are probed without running middlewares, so nothing with side effects runs twice.
 */
export async function inputWithResumeId(
  procedure: AnyTRPCProcedure,
  input: unknown,
  lastEventId: string | null,
): Promise<unknown> {
  if (!lastEventId) return input;
  let candidate: Record<string, unknown>;
  if (isPlainObject(input)) candidate = { ...input, lastEventId };
  else if (input === undefined || input === null) candidate = { lastEventId };
  else return input;
  const parsers = (procedure._def as { inputs?: unknown[] }).inputs ?? [];
  for (const parser of parsers) {
    if (!(await parserAccepts(parser, candidate))) return input;
  }
  return candidate;
}

type Parser = Record<string, unknown> & ((value: unknown) => unknown);

/**
 * Whether a tRPC input parser accepts `value`. Covers the parser kinds tRPC itself accepts:
 * Standard Schema (zod ≥ 3.24, valibot, arktype, effect), zod-like `safeParse(Async)`,
 * yup-like `validateSync`, superstruct `create`, `parse`/`assert` that throw, and plain
 * functions. An unknown kind counts as accepting, which is tRPC's own behaviour.
 */
async function parserAccepts(parser: unknown, value: unknown): Promise<boolean> {
  if ((typeof parser !== 'object' && typeof parser !== 'function') || parser === null) return true;
  const p = parser as Parser;
  try {
    const standard = p['~standard'] as { validate?: (v: unknown) => unknown } | undefined;
    if (standard && typeof standard.validate === 'function') {
      const result = (await standard.validate(value)) as { issues?: unknown };
      return !result.issues;
    }
    if (typeof p['safeParseAsync'] === 'function') {
      return (await (p['safeParseAsync'] as (v: unknown) => Promise<{ success: boolean }>)(value)).success;
    }
    if (typeof p['safeParse'] === 'function') {
      return (p['safeParse'] as (v: unknown) => { success: boolean })(value).success;
    }
    for (const method of ['parseAsync', 'parse', 'validateSync', 'create', 'assert'] as const) {
      if (typeof p[method] === 'function') {
        await (p[method] as (v: unknown) => unknown).call(p, value);
        return true;
      }
    }
    if (typeof p === 'function') {
      await p(value);
      return true;
    }
    return true;
  } catch {
    return false;
  }
}
