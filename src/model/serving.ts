// The standalone route reconciler (Knative Serving's Service/Configuration/Route/DomainMapping controllers as one pure
// function). Implementation lives in ./serving/; this module is its public face.
export { reconcileServing, type ReconcileInput, type ReconcileResult, ROLLOUT_DURATION_ANNOTATION, HTTP_PROTOCOL_ANNOTATION } from './serving/reconcile.js';
export { emptyHistory, readHistory, type RevisionHistory, type RevisionRecord, type ConfigurationHistory } from './serving/history.js';
export type { Rollout, ConfigurationRollout, RevisionRollout } from './serving/rollout.js';
export { UPSTREAM_ANNOTATION, generatedRevisionName, templateHash } from './serving/revisions.js';
export { REVISION_HEADER, NAMESPACE_HEADER, TAG_HEADER, DEFAULT_ROUTE_HEADER, ORIGINAL_HOST_HEADER } from './serving/ingress.js';
