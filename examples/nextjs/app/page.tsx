import Link from 'next/link';
import { Live } from './live';

// Rendered for every request, as a page that reads the visitor's session would be: the
// provider, and with it a tRPC client, is created on the server each time.
export const dynamic = 'force-dynamic';

// Next.js takes the page as the module's default export.
export default function Page() {
  return (
    <main>
      <h1>trpc-sse in Next.js</h1>
      <p>
        Two subscriptions on one multiplexed event stream (<code>/api/trpc/trpc-sse</code>), served by tRPC&apos;s
        standard <code>app/api/trpc/[trpc]/route.ts</code>. Lose the network for a moment: the clock resumes where it
        left off, with nothing missing.
      </p>
      <p>
        <Link href="/progress">Progress of a long job</Link>: a route of its own streaming a job&apos;s steps.
      </p>
      <Live />
    </main>
  );
}
