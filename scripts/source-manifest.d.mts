/** Types of source-manifest.mjs (plain JavaScript, so that the launcher needs no TypeScript). */
export type SourceManifest = Record<string, [size: number, mtimeMs: number]>;
export function sourceManifest(repo: string): SourceManifest;
export function sameManifest(a: SourceManifest, b: SourceManifest): boolean;
export function compiledIsCurrent(repo: string): boolean;
