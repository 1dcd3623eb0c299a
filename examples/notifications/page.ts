/** The notifications example's own page: `?user=grace` signs in as Grace (default: ada). */
import { mountConnectionPanel } from '../shared/connectionPanel.js';
import { createPageClient } from '../shared/pageClient.js';
import type { NotificationsAppRouter } from './app.js';
import { mountNotifications } from './widget.js';

const client = await createPageClient<NotificationsAppRouter>();
const app = document.getElementById('app')!;
mountConnectionPanel(app, client, client.trpc);
mountNotifications(app, client, client.trpc);
