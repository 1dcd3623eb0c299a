import { TRPCError } from '@trpc/server';
import type { ControlOp, SubscribeOpWire } from '../../protocol.js';
import { trackedIdProblem } from '../trackedId.js';

/**
 * A `subscribe` op once validated: every field of the wire's op present (a missing resume
 * id is `null`), the resume id checked. An op whose subscription id is usable but whose other
 * fields are not carries `refusal`: that subscription alone fails (a `failed` frame), and the
 * ops beside it are applied.
 */
export type ValidSubscribeOp = Required<SubscribeOpWire> & { refusal?: TRPCError };

/** A control op (PROTOCOL.md §2.4) once validated. */
export type ValidControlOp = ValidSubscribeOp | Exclude<ControlOp, SubscribeOpWire>;

const MAX_ID_LENGTH = 128;
const MAX_PATH_LENGTH = 1024;

function badRequest(message: string): TRPCError {
  return new TRPCError({ code: 'BAD_REQUEST', message: `Invalid control request: ${message}` });
}

function isShortString(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= max;
}

/**
 * Validates every op before any is applied: a malformed request (not JSON, an unknown op, an
 * op without a usable subscription id) changes nothing. A `subscribe` op that names its
 * subscription but is wrong otherwise is not malformed: it comes back with its `refusal`.
 */
export function parseOps(body: string, maxLastEventIdLength: number): ValidControlOp[] {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (cause) {
    throw new TRPCError({ code: 'PARSE_ERROR', message: 'The control request body is not valid JSON', cause });
  }
  const ops = (json as { ops?: unknown } | null)?.ops;
  if (!Array.isArray(ops)) throw badRequest('expected {"ops": [...]}');
  return ops.map((raw, index) => parseOp(raw, index, maxLastEventIdLength));
}

/**
 * The `subscribe` query parameter of a stream that opens a new connection (PROTOCOL.md §2.1):
 * a JSON array of subscribe ops, started as soon as the connection exists, which saves the
 * client a control request before its first event.
 */
export function parseOpeningSubscribes(
  text: string,
  maxLength: number,
  maxLastEventIdLength: number,
): ValidSubscribeOp[] {
  if (text.length > maxLength) {
    throw new TRPCError({
      code: 'PAYLOAD_TOO_LARGE',
      message: `The "subscribe" parameter exceeds ${maxLength} characters`,
    });
  }
  let ops: unknown;
  try {
    ops = JSON.parse(text);
  } catch (cause) {
    throw new TRPCError({ code: 'PARSE_ERROR', message: 'The "subscribe" parameter is not valid JSON', cause });
  }
  if (!Array.isArray(ops)) throw badRequest('"subscribe" must be an array of subscribe ops');
  return ops.map((raw, index) => {
    const op = parseOp(raw, index, maxLastEventIdLength);
    if (op.op !== 'subscribe') throw badRequest(`subscribe[${index}].op must be "subscribe"`);
    return op;
  });
}

function parseOp(raw: unknown, index: number, maxLastEventIdLength: number): ValidControlOp {
  const op = raw as Record<string, unknown> | null;
  switch (op?.['op']) {
    case 'subscribe': {
      const { id, path, lastEventId } = op;
      if (!isShortString(id, MAX_ID_LENGTH))
        throw badRequest(`ops[${index}].id must be a string of 1–${MAX_ID_LENGTH} characters`);
      const subscribe = {
        op: 'subscribe' as const,
        id,
        path: typeof path === 'string' ? path : '',
        input: op['input'],
        lastEventId: typeof lastEventId === 'string' && lastEventId !== '' ? lastEventId : null,
      };
      if (!isShortString(path, MAX_PATH_LENGTH)) {
        return {
          ...subscribe,
          refusal: badRequest(`ops[${index}].path must be a string of 1–${MAX_PATH_LENGTH} characters`),
        };
      }
      if (lastEventId !== undefined && lastEventId !== null) {
        // The rule the server's own ids obey when written (trackedId.ts).
        const problem =
          typeof lastEventId === 'string' ? trackedIdProblem(lastEventId, maxLastEventIdLength) : 'it is not a string';
        if (problem !== undefined)
          return { ...subscribe, refusal: badRequest(`ops[${index}].lastEventId is invalid: ${problem}`) };
      }
      return subscribe;
    }
    case 'unsubscribe':
      if (!isShortString(op['id'], MAX_ID_LENGTH))
        throw badRequest(`ops[${index}].id must be a string of 1–${MAX_ID_LENGTH} characters`);
      return { op: 'unsubscribe', id: op['id'] };
    case 'close':
      return { op: 'close' };
    default:
      throw badRequest(`ops[${index}].op must be "subscribe", "unsubscribe" or "close"`);
  }
}
