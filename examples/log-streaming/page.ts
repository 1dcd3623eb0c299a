/** The log streaming example's own page. */
import { mountConnectionPanel } from '../shared/connectionPanel.js';
import { createPageClient } from '../shared/pageClient.js';
import type { LogStreamingAppRouter } from './app.js';
import { mountLogStream } from './widget.js';

const client = await createPageClient<LogStreamingAppRouter>();
const app = document.getElementById('app')!;
mountConnectionPanel(app, client, client.trpc);
mountLogStream(app, client.trpc, { rate: Number(new URLSearchParams(location.search).get('rate') ?? 5_000) });
