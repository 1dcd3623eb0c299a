/**
 * Empties dist before a build: tsc only writes, so a module whose source was moved or deleted
 * would otherwise stay in dist and be packed.
 */
import { rmSync } from 'node:fs';

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
