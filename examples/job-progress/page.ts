/** The job example's own page. */
import { mountConnectionPanel } from '../shared/connectionPanel.js';
import { createPageClient } from '../shared/pageClient.js';
import type { JobProgressAppRouter } from './app.js';
import { mountJobProgress } from './widget.js';

const client = await createPageClient<JobProgressAppRouter>();
const app = document.getElementById('app')!;
mountConnectionPanel(app, client, client.trpc);
mountJobProgress(app, client.trpc);
