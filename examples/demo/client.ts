/** The demo's front page: the four use cases side by side, on one connection. */
import { mountActivityFeed } from '../activity-feed/widget.js';
import { mountJobProgress } from '../job-progress/widget.js';
import { mountLogStream } from '../log-streaming/widget.js';
import { mountNotifications } from '../notifications/widget.js';
import { mountConnectionPanel } from '../shared/connectionPanel.js';
import { createPageClient } from '../shared/pageClient.js';
import type { DemoRouter } from './router.js';

const client = await createPageClient<DemoRouter>();
const app = document.getElementById('app')!;
mountConnectionPanel(app, client, client.trpc);
mountActivityFeed(app, client.trpc);
mountNotifications(app, client, client.trpc);
mountJobProgress(app, client.trpc);
mountLogStream(app, client.trpc, { rate: Number(new URLSearchParams(location.search).get('rate') ?? 2_000) });
