/** The activity feed's own page: the feed and the connection panel. */
import { mountConnectionPanel } from '../shared/connectionPanel.js';
import { createPageClient } from '../shared/pageClient.js';
import type { ActivityFeedAppRouter } from './app.js';
import { mountActivityFeed } from './widget.js';

const client = await createPageClient<ActivityFeedAppRouter>();
const app = document.getElementById('app')!;
mountConnectionPanel(app, client, client.trpc);
mountActivityFeed(app, client.trpc);
