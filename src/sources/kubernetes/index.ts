export { KubernetesSource, RESOURCES, type KubernetesSourceOptions } from './kubernetes-source.js';
export { KubernetesCluster, gatewayPods, type KubernetesClusterOptions } from './cluster.js';
export { KubeClient, loadKubeConfig } from './client.js';
export { IngressStatusWriter, ingressStatus } from './status.js';
export { IngressProber, probeOnce, type ProbeTarget } from './prober.js';
export { LeaderElector } from './leader.js';
export { translate, type ClusterObjects, type IngressVersion } from './translate.js';
export * from './constants.js';
export { EventingStatusWriter, resolveSubscriber } from './eventing-status.js';
