/**
 * Bundled into the test page with the README's client block: drives that block's `trpc`
 * client in the browser.
 */
import type { TRPCClient } from '@trpc/client';
import type { AppRouter } from '../fixtures/router.js';

/**
 * Subscribes to `room`, posts `text` there (a mutation through the same client) and resolves
 * with the first message the subscription delivers. The order of the two does not matter:
 * a subscription without a last id replays the room before going live.
 */
export function subscribeAndSend(
  trpc: TRPCClient<AppRouter>,
  room: string,
  text: string,
): Promise<{ id: string; text: string }> {
  return new Promise((resolve, reject) => {
    const subscription = trpc.onMessage.subscribe(
      { room },
      {
        onData: ({ id, data }) => {
          subscription.unsubscribe();
          resolve({ id, text: data.text });
        },
        onError: reject,
      },
    );
    trpc.send.mutate({ room, text }).catch(reject);
  });
}
