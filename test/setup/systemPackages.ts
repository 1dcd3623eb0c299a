/**
 * Vitest global setup: the suite uses real system programs (openssl for the HTTP/2 TLS
 * certificate), so a fresh machine gets them installed before any test starts.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const script = fileURLToPath(new URL('../../scripts/ensure-system-packages.sh', import.meta.url));
  execFileSync('bash', [script, 'openssl=openssl', 'chromium=chromium', 'redis-server=redis-server'], { stdio: 'inherit' });
}
