import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const UNSTABLE_TRPC_CORE = {
  name: '@trpc/server/unstable-core-do-not-import',
  message: 'Import it from @trpc/server: this path changes without a major release.',
  allowTypeImports: true,
};

/** What the server and client entries must not pull in (ARCHITECTURE.md, "Entry points"). */
const RUNTIME_NEUTRAL_IMPORTS = {
  patterns: [
    {
      group: ['node:*'],
      message: 'Outside adapters/ and redis/, src/ runs in browsers and edge runtimes.',
    },
  ],
  paths: [
    UNSTABLE_TRPC_CORE,
    { name: 'express', message: 'Only src/adapters may import Express.' },
    { name: 'ioredis', message: 'Only src/redis may import a Redis client.' },
  ],
};

export default defineConfig(
  globalIgnores([
    'dist/',
    'coverage/',
    '**/node_modules/',
    'bench/results/',
    'examples/nextjs/.next/',
    'examples/nextjs/next-env.d.ts',
  ]),
  js.configs.recommended,
  tseslint.configs.strictTypeChecked,
  tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          args: 'all',
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrors: 'all',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // verbatimModuleSyntax keeps every import that is not marked `type`: these keep type-only
      // imports out of the emitted JavaScript, in the inline style the code already uses.
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { prefer: 'type-imports', fixStyle: 'inline-type-imports' },
      ],
      '@typescript-eslint/consistent-type-exports': ['error', { fixMixedExportsWithInlineTypeSpecifier: true }],
      '@typescript-eslint/no-import-type-side-effects': 'error',
      '@typescript-eslint/array-type': ['error', { default: 'array-simple' }],
      // Bracket access marks a key that may be missing (an index signature, `process.env`).
      '@typescript-eslint/dot-notation': ['error', { allowIndexSignaturePropertyAccess: true }],
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        {
          allowNumber: true,
          allowBoolean: true,
          allowAny: false,
          allowNullish: false,
          allowRegExp: false,
          allowNever: false,
        },
      ],
      // `() => resolve()` as a callback is idiomatic, and so is `return notify();` in a function that returns nothing is how this code base ends a branch.
      '@typescript-eslint/no-confusing-void-expression': [
        'error',
        { ignoreArrowShorthand: true, ignoreVoidReturningFunctions: true },
      ],
      // `||` on a string treats '' as missing, on purpose (environment variables, query parameters, SSE fields).
      '@typescript-eslint/prefer-nullish-coalescing': ['error', { ignorePrimitives: { string: true } }],
      // Handing on what a `catch` caught is not inventing a non-Error reason.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // With noUncheckedIndexedAccess, `items[i]!` is how code states an index it has just bounded;
      // forbidding it pushes towards casts or dead branches.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Trusts narrowing across `await` and callbacks (a `closed` flag a callback sets reads as
      // constant) and flags the deliberate checks on values from application code or older runtimes.
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // An `async` function without `await` is how a synchronous throw becomes a rejection, which
      // the EventLog contract and the guards around application code rely on.
      '@typescript-eslint/require-await': 'off',
      // `publish<T>(topic, data: T)` is public API; dropping the parameter would break callers who pass it.
      '@typescript-eslint/no-unnecessary-type-parameters': 'off',
      // The wire refuses control characters on purpose, so the code matches them on purpose.
      'no-control-regex': 'off',
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { paths: [UNSTABLE_TRPC_CORE] }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/adapters/**', 'src/redis/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', RUNTIME_NEUTRAL_IMPORTS],
    },
  },
  {
    // Observable subscriptions are deprecated by tRPC but still served; the tests cover them on purpose.
    files: ['test/**'],
    rules: { '@typescript-eslint/no-deprecated': 'off' },
  },
  {
    // Diagnostics print a child's exit code and signal, one of which is null by design.
    files: ['test/**', 'bench/**', 'scripts/**'],
    rules: {
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        {
          allowNumber: true,
          allowBoolean: true,
          allowNullish: true,
          allowAny: false,
          allowRegExp: false,
          allowNever: false,
        },
      ],
    },
  },
  {
    // Plain JavaScript (build scripts, CommonJS consumers, fixtures' re-exports) is in no tsconfig:
    // it gets the rules that need no types.
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { ...globals.node } },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The Next.js example is its own project, whose packages its test installs on first run: typed
    // rules would judge it by whether that install happened. `next build` type-checks it.
    files: ['examples/nextjs/**'],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
