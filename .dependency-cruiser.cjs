// The layering rules of docs/ARCHITECTURE.md §2, checked on every lint: a wrong arrow between
// rooms fails CI instead of waiting for review.
const room = (name) => `^src/${name}/`;

/** Each room and the rooms (or packages) it may import. Anything else is a violation. */
const allowed = {
  base: [],
  raft: ['base'],
  storage: ['base', 'raft'],
  mvcc: ['base', 'storage'],
  lease: ['base', 'storage', 'mvcc'],
  auth: ['base', 'storage', 'mvcc'],
  transport: ['base', 'raft'],
  server: ['base', 'raft', 'storage', 'mvcc', 'lease', 'auth', 'transport'],
  backup: ['base', 'storage', 'mvcc', 'lease', 'server'],
  api: ['base', 'server', 'mvcc', 'lease', 'auth', 'backup'],
  client: ['base', 'api/proto'],
};

/** Matches an npm package as dependency-cruiser reports it: by its resolved path. */
const npm = (name) => `(^|node_modules/)${name}(/|$)`;

/** Node built-ins and npm packages each room may use; the raft core and base get none. */
const allowedPackages = {
  base: [],
  raft: [],
  storage: ['^(node:)?(fs|fs/promises|path|os)$', npm('lmdb'), npm('@node-rs/crc32')],
  mvcc: [],
  lease: [],
  auth: ['^(node:)?crypto$'],
  backup: ['^(node:)?(fs|fs/promises|path|os|crypto)$', npm('@node-rs/crc32')],
};

const roomRules = Object.entries(allowed).map(([name, deps]) => ({
  name: `layering-${name}`,
  comment: `src/${name} may import only: ${deps.join(', ') || 'nothing'}`,
  severity: 'error',
  from: { path: room(name) },
  to: {
    path: '^src/',
    pathNot: [room(name), ...deps.map(room)],
  },
}));

const packageRules = Object.entries(allowedPackages).map(([name, pkgs]) => ({
  name: `packages-${name}`,
  comment: `src/${name} may use only these packages: ${pkgs.join(', ') || 'none'}`,
  severity: 'error',
  from: { path: room(name) },
  to: {
    dependencyTypes: [
      'core',
      'npm',
      'npm-dev',
      'npm-optional',
      'npm-peer',
      'npm-no-pkg',
      'npm-unknown',
    ],
    pathNot: pkgs.length > 0 ? pkgs : ['^$'],
  },
}));

module.exports = {
  forbidden: [
    ...roomRules,
    ...packageRules,
    {
      name: 'no-test-imports-in-production',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
