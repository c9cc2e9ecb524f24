// How `wharf serve --kubernetes` configures the cluster side, from the pod's environment (Downward API) and the CLI's
// listener ports, so the CLI needs one call: new KubernetesCluster(clusterOptionsFromEnv(process.env, ports)).
import { loadKubeConfig } from './client.js';
import type { KubernetesClusterOptions } from './cluster.js';
import { DEFAULT_CLUSTER_DOMAIN, DEFAULT_NAMESPACE, KNATIVE_SERVING_NAMESPACE, WHARF_INGRESS_CLASS } from './constants.js';

export interface ClusterEnv {
  /** Identity for the Lease (Downward API metadata.name). */
  POD_NAME?: string;
  /** wharf's namespace (Downward API metadata.namespace). */
  POD_NAMESPACE?: string;
  WHARF_INGRESS_CLASS?: string;
  WHARF_CLUSTER_DOMAIN?: string;
  WHARF_SERVING_NAMESPACE?: string;
  /** A kubeconfig file (outside a cluster); otherwise KUBECONFIG / ~/.kube/config / the service account. */
  WHARF_KUBECONFIG?: string;
  /** Knative's autoscaler stat endpoint. */
  WHARF_AUTOSCALER_URL?: string;
  [k: string]: string | undefined;
}

/** The env names above, for --help and the docs. */
export const CLUSTER_ENV_DOC: Record<string, string> = {
  POD_NAME: 'this replica\'s Lease identity (default: hostname)',
  POD_NAMESPACE: `wharf's namespace: Lease, gateway Services, default certificates (default ${DEFAULT_NAMESPACE})`,
  WHARF_INGRESS_CLASS: `KIngress class served (default ${WHARF_INGRESS_CLASS})`,
  WHARF_CLUSTER_DOMAIN: `cluster domain for load balancer names (default ${DEFAULT_CLUSTER_DOMAIN})`,
  WHARF_SERVING_NAMESPACE: `where Knative's ConfigMaps live (default ${KNATIVE_SERVING_NAMESPACE})`,
  WHARF_KUBECONFIG: 'kubeconfig file to use instead of the in-cluster service account',
  WHARF_AUTOSCALER_URL: `Knative autoscaler stat WebSocket (default ws://autoscaler.knative-serving.svc.<cluster-domain>:8080)`,
};

/** Where concurrency stats go in a cluster: Knative's autoscaler, as its activator reports them. */
export function autoscalerUrlFromEnv(env: ClusterEnv): string {
  return env.WHARF_AUTOSCALER_URL || `ws://autoscaler.knative-serving.svc.${env.WHARF_CLUSTER_DOMAIN || DEFAULT_CLUSTER_DOMAIN}:8080`;
}

export function clusterOptionsFromEnv(env: ClusterEnv, ports: { httpPort: number; internalHttpPort: number }): KubernetesClusterOptions {
  return {
    kubeConfig: loadKubeConfig(env.WHARF_KUBECONFIG || undefined),
    identity: env.POD_NAME || undefined,
    namespace: env.POD_NAMESPACE || DEFAULT_NAMESPACE,
    ingressClass: env.WHARF_INGRESS_CLASS || WHARF_INGRESS_CLASS,
    clusterDomain: env.WHARF_CLUSTER_DOMAIN || DEFAULT_CLUSTER_DOMAIN,
    servingNamespace: env.WHARF_SERVING_NAMESPACE || KNATIVE_SERVING_NAMESPACE,
    // The prober dials every gateway pod on the ports this replica listens on (all replicas run the same flags).
    probePorts: { external: ports.httpPort, internal: ports.internalHttpPort },
  };
}
