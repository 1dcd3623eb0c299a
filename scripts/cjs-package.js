/**
 * Marks dist/cjs as CommonJS: the package itself is "type": "module", so without this
 * package.json Node would load dist/cjs/**\/*.js as ES modules and TypeScript would read
 * their .d.ts as ESM declarations.
 */
import { writeFileSync } from 'node:fs';

writeFileSync(
  new URL('../dist/cjs/package.json', import.meta.url),
  `${JSON.stringify({ type: 'commonjs' }, null, 2)}\n`,
);
