/** Each vitest project really runs the library against the @trpc version it names. */
import { expect, test } from 'vitest';

test('@trpc/server and @trpc/client resolve to the project’s version', async () => {
  const server = await import('@trpc/server/package.json', { with: { type: 'json' } });
  const client = await import('@trpc/client/package.json', { with: { type: 'json' } });
  expect(server.default.version).toBe(process.env['EXPECTED_TRPC_VERSION']);
  expect(client.default.version).toBe(process.env['EXPECTED_TRPC_VERSION']);
});
