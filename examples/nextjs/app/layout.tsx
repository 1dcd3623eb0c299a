import type { Metadata } from 'next';
import type { ReactNode } from 'react';
import { TRPCReactProvider } from '../trpc/client';
import './styles.css';

export const metadata: Metadata = {
  title: 'trpc-sse · Next.js',
  description: 'tRPC subscriptions over server-sent events in a Next.js app',
};

// Next.js takes the root layout as the module's default export.
export default function RootLayout({ children }: Readonly<{ children: ReactNode }>) {
  return (
    <html lang="en">
      <body>
        <TRPCReactProvider>{children}</TRPCReactProvider>
      </body>
    </html>
  );
}
