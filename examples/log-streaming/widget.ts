/**
 * A program's log on a page, thousands of lines a second: the newest lines in a terminal-like
 * view, drawn once per frame. Follow keeps the view at the bottom; Pause stops the program
 * (the subscription ends) and Resume starts it again after the last line shown, so no line is
 * missed or repeated. Lines arrive as bytes (`Uint8Array`) and are decoded here.
 */
import type { Unsubscribable } from '@trpc/server/observable';
import type { TRPCClient } from '@trpc/client';
import { card, el } from '../shared/dom.js';
import type { LogChunk } from './source.js';
import type { LogsRouter } from './router.js';

const KEPT_LINES = 400;

export function mountLogStream(root: HTMLElement, trpc: TRPCClient<LogsRouter>, opts: { rate?: number } = {}): void {
  const rate = el('select', { id: 'log-rate', 'aria-label': 'Lines per second' });
  const rates: Array<[string, string]> = [
    ['1000', '1,000 lines/s'],
    ['2000', '2,000 lines/s'],
    ['5000', '5,000 lines/s'],
    ['20000', '20,000 lines/s'],
    ['0', 'as fast as the page reads'],
  ];
  for (const [value, label] of rates) rate.append(el('option', { value }, label));
  rate.value = String(opts.rate ?? 5_000);
  // A rate that is not offered falls back to the first one, never to "unbounded".
  if (rate.selectedIndex === -1) rate.selectedIndex = 0;
  const pause = el('button', { id: 'log-pause', type: 'button' }, 'Pause');
  const follow = el('input', { id: 'log-follow', type: 'checkbox', checked: '' });
  const view = el('pre', { id: 'log', class: 'log' });
  const counts = el('p', { class: 'muted small' });
  root.append(
    card(
      'Log streaming',
      'log-streaming',
      el('div', { class: 'row' }, pause, rate, el('label', { class: 'small' }, follow, ' follow')),
      counts,
      view,
    ),
  );

  let lastLine = 0;
  let received = 0;
  let bytes = 0;
  let gaps = 0;
  let binaryChunks = 0;
  const shown: string[] = [];
  const decoder = new TextDecoder();
  let frame = 0;
  let subscription: Unsubscribable | undefined;
  let rateWindow = { at: performance.now(), lines: 0, perSecond: 0 };

  const draw = (): void => {
    frame = 0;
    view.textContent = shown.join('\n');
    if (follow.checked) view.scrollTop = view.scrollHeight;
    const now = performance.now();
    if (now - rateWindow.at >= 1_000)
      rateWindow = {
        at: now,
        lines: received,
        perSecond: Math.round(((received - rateWindow.lines) * 1_000) / (now - rateWindow.at)),
      };
    counts.replaceChildren(
      'lines ',
      el('b', { id: 'log-lines' }, String(received)),
      ' · last ',
      el('b', { id: 'log-last' }, String(lastLine)),
      ' · gaps ',
      el('b', { id: 'log-gaps' }, String(gaps)),
      ' · ',
      el('b', {}, rateWindow.perSecond.toLocaleString()),
      ' lines/s',
      ' · ',
      el('span', { id: 'log-bytes' }, `${(bytes / 1e6).toFixed(1)} MB`),
      ' in ',
      el('b', { id: 'log-binary' }, String(binaryChunks)),
      ' Uint8Array chunks',
    );
  };

  const onChunk = (chunk: LogChunk): void => {
    if (chunk.bytes instanceof Uint8Array) binaryChunks++;
    if (chunk.firstLine !== lastLine + 1) gaps++;
    lastLine = chunk.firstLine + chunk.lines - 1;
    received += chunk.lines;
    bytes += chunk.bytes.byteLength;
    const lines = decoder.decode(chunk.bytes).split('\n');
    lines.pop();
    shown.push(...lines.slice(-KEPT_LINES));
    if (shown.length > KEPT_LINES) shown.splice(0, shown.length - KEPT_LINES);
    frame ||= requestAnimationFrame(draw);
  };

  const start = (): void => {
    // From the last line shown: after a pause, the program starts again where the page is.
    subscription = trpc.logs.tail.subscribe(
      { rate: Number(rate.value), lastEventId: lastLine ? String(lastLine) : null },
      // tRPC types an output as its JSON form when the router has no transformer; trpc-sse's
      // client revives the bytes, so this is a Uint8Array (checked and counted in onChunk).
      {
        onData: ({ data }) => onChunk(data as unknown as LogChunk),
        onError: (error) => (counts.textContent = error.message),
      },
    );
    pause.textContent = 'Pause';
  };
  const stop = (): void => {
    subscription?.unsubscribe();
    subscription = undefined;
    pause.textContent = 'Resume';
  };
  pause.addEventListener('click', () => (subscription ? stop() : start()));
  rate.addEventListener('change', () => {
    if (!subscription) return;
    stop();
    start();
  });
  start();
  draw();
}
