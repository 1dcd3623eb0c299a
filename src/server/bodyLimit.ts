import { TRPCError } from '@trpc/server';

/** The error every adapter throws for a body over its limit. */
export function bodyTooLarge(maxBytes: number): TRPCError {
  return new TRPCError({ code: 'PAYLOAD_TOO_LARGE', message: `The request body exceeds ${maxBytes} bytes` });
}

/** Rejects early on a declared `Content-Length` over the limit, before reading anything. */
export function checkDeclaredLength(contentLength: string | null | undefined, maxBytes: number): void {
  if (contentLength && Number(contentLength) > maxBytes) throw bodyTooLarge(maxBytes);
}
