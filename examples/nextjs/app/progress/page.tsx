import Link from 'next/link';
import { Progress } from './progress';

// Next.js takes the page as the module's default export.
export default function ProgressPage() {
  return (
    <main>
      <h1>Progress of a long job</h1>
      <p>
        A route of its own, <code>app/api/stream/[trpc]/route.ts</code>, streams the job&apos;s steps as server-sent
        events, each with its step number as the event&apos;s id. Lose the network for a moment: the bar goes on from
        the step after the last one shown, with nothing skipped and nothing twice. <Link href="/">The live page</Link>
      </p>
      <Progress />
    </main>
  );
}
