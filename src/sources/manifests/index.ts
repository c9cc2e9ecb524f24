// The manifest-folder source: public API for the runtime and the CLI (serve, validate, routes).
export { ManifestSource, type ManifestSourceOptions, type ReloadOutcome } from './manifest-source.js';
export { loadFolder, parseManifests, fieldLine, type Loaded, type LoadResult } from './load.js';
export { buildDesired, hasErrors, type BuildResult } from './build.js';
export { HistoryStore, HISTORY_FILE } from './history-store.js';
export { validateFolder } from './validate.js';
