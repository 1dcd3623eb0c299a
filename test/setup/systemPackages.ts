/**
 * Vitest global setup: the suite uses real system programs (openssl for the HTTP/2 TLS
 * certificate, redis-server and PostgreSQL for the shared event logs), so a fresh machine gets
 * them installed before any test starts.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const script = fileURLToPath(new URL('../../scripts/ensure-system-packages.sh', import.meta.url));
  // Debian keeps PostgreSQL's server programs off PATH, in /usr/lib/postgresql/<version>/bin.
  execFileSync(
    'bash',
    [
      script,
      'openssl=openssl',
      'chromium=chromium',
      'redis-server=redis-server',
      '/usr/lib/postgresql/*/bin/postgres=postgresql',
    ],
    {
      stdio: 'inherit',
    },
  );
}
