export * from './backend/index.ts';
export * from './fs/index.ts';
export * from './wal/index.ts';
export * from './snapshot/index.ts';
