// The KIngress contract (networking.internal.knative.dev/v1alpha1 Ingress), field for field as Knative declares it
// (knative/networking pkg/apis/networking/v1alpha1/ingress_types.go). Declaration order matters: the probe hash
// marshals these fields in exactly this order.
import type { ObjectMeta } from './objects.js';

export type Visibility = 'ExternalIP' | 'ClusterLocal';
export type HTTPOption = '' | 'Enabled' | 'Redirected';

export interface IngressTLS {
  hosts?: string[];
  secretName?: string;
  secretNamespace?: string;
}

export interface HeaderMatch {
  exact: string;
}

export interface IngressBackendSplit {
  serviceNamespace: string;
  serviceName: string;
  servicePort: number | string;
  percent?: number;
  appendHeaders?: Record<string, string>;
}

export interface HTTPIngressPath {
  path?: string;
  rewriteHost?: string;
  headers?: Record<string, HeaderMatch>;
  splits: IngressBackendSplit[];
  appendHeaders?: Record<string, string>;
}

export interface IngressRule {
  hosts?: string[];
  visibility?: Visibility;
  http?: { paths: HTTPIngressPath[] };
}

export interface IngressSpec {
  tls?: IngressTLS[];
  rules?: IngressRule[];
  httpOption?: HTTPOption;
}

export interface Ingress {
  apiVersion: 'networking.internal.knative.dev/v1alpha1';
  kind: 'Ingress';
  metadata: ObjectMeta;
  spec: IngressSpec;
  status?: any;
}

export const INGRESS_CLASS_ANNOTATION = 'networking.knative.dev/ingress.class';
export const WHARF_INGRESS_CLASS = 'wharf.ingress.networking.knative.dev';
