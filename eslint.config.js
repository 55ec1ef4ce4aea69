// ESLint flat config: typescript-eslint's type-aware recommended rules over every
// TypeScript folder the build compiles (tsconfig.json "include").
// https://typescript-eslint.io/getting-started/typed-linting
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'helm/', '.cache/'] },
  {
    files: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', 'cmd/**/*.ts', 'certs-example/**/*.ts', 'packaging/**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // node:test's test()/describe() return promises the runner itself awaits.
      // https://typescript-eslint.io/rules/no-floating-promises/#allowforknownsafecalls
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }],
        },
      ],
      // Unused names are errors (tsc's noUnused* flags agree); a leading underscore marks a
      // parameter or binding kept on purpose, as tsc allows.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      // Promise callbacks forward an abort reason or a caught error verbatim.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true, allowThrowingAny: true }],
      // Off: the parsers and sanitisers match control characters on purpose, to refuse or strip them.
      'no-control-regex': 'off',
      // Off: options, pipelines and handles are plain objects of closures typed with method
      // shorthand; copying `options.onSuccess` detaches no `this`. Turning it on would mean
      // retyping every such interface.
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    // The bundle's shims exist to `require` a package inside the CommonJS bundle, where the
    // originals' createRequire would look for node_modules on disk.
    files: ['packaging/shims/**/*.ts'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['test/**/*.ts', 'src/**/*.test.ts', 'bench/**/*.ts'],
    rules: {
      // Off in tests: fakes implement Promise-returning interfaces with async functions that
      // have nothing to await.
      '@typescript-eslint/require-await': 'off',
      // Off in tests: assertions stringify parsed JSON/YAML values whose static type includes
      // objects; an object there fails the assertion, which is the point.
      '@typescript-eslint/no-base-to-string': 'off',
    },
  },
  {
    // Plain JavaScript scripts: no type information.
    files: ['**/*.mjs', 'eslint.config.js'],
    extends: [js.configs.recommended],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly' },
    },
  },
);
