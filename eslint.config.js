// Lint rules that keep the house in order. Import layering between rooms is checked by
// dependency-cruiser (.dependency-cruiser.cjs); this file forbids, inside the pure consensus
// core, the globals and syntax that would make it nondeterministic or tie it to Node.
import tseslint from 'typescript-eslint';

const nondeterministicGlobals = [
  'Buffer',
  'Date',
  'setTimeout',
  'setInterval',
  'setImmediate',
  'clearTimeout',
  'clearInterval',
  'queueMicrotask',
  'process',
  'Promise',
  'performance',
  'crypto',
].map((name) => ({
  name,
  message: `src/raft is a pure state machine: ${name} would tie it to time, I/O or the platform.`,
}));

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.sim-out/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-properties': [
        'error',
        { object: 'describe', property: 'only', message: 'No focused tests.' },
        { object: 'it', property: 'only', message: 'No focused tests.' },
        { object: 'test', property: 'only', message: 'No focused tests.' },
      ],
    },
  },
  {
    files: ['src/raft/**/*.ts', 'src/base/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', ...nondeterministicGlobals],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'Use the injected seeded Random.' },
      ],
      'no-restricted-syntax': [
        'error',
        { selector: 'FunctionDeclaration[async=true]', message: 'src/raft has no async code.' },
        { selector: 'ArrowFunctionExpression[async=true]', message: 'src/raft has no async code.' },
        { selector: 'FunctionExpression[async=true]', message: 'src/raft has no async code.' },
        { selector: 'AwaitExpression', message: 'src/raft has no async code.' },
      ],
    },
  },
);
