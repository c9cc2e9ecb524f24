export { FakeApiServer, startFakeApiServer, mergePatch, type RequestRecord, type FakeApiServerOptions } from './server.js';
export { ApiError, Store, type Obj } from './store.js';
export { RESOURCE_TYPES, type ResourceType } from './resources.js';
