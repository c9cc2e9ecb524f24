import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clusterOptionsFromEnv } from '../../../src/sources/kubernetes/options.js';

describe('clusterOptionsFromEnv', () => {
  it('maps the Downward API and WHARF_* env onto the cluster options, with the CLI ports for probing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wharf-kc-'));
    const file = join(dir, 'config');
    writeFileSync(
      file,
      ['apiVersion: v1', 'kind: Config', 'clusters: [{name: c, cluster: {server: "https://10.0.0.1:6443"}}]', 'users: [{name: u, user: {token: t}}]', 'contexts: [{name: x, context: {cluster: c, user: u}}]', 'current-context: x'].join('\n'),
    );
    const o = clusterOptionsFromEnv(
      { POD_NAME: 'wharf-1', POD_NAMESPACE: 'edge', WHARF_INGRESS_CLASS: 'two.ingress', WHARF_CLUSTER_DOMAIN: 'corp.local', WHARF_KUBECONFIG: file },
      { httpPort: 18080, internalHttpPort: 18081 },
    );
    expect(o).toMatchObject({ identity: 'wharf-1', namespace: 'edge', ingressClass: 'two.ingress', clusterDomain: 'corp.local', servingNamespace: 'knative-serving', probePorts: { external: 18080, internal: 18081 } });
    expect(o.kubeConfig.getCurrentCluster()?.server).toBe('https://10.0.0.1:6443');
    const d = clusterOptionsFromEnv({ WHARF_KUBECONFIG: file }, { httpPort: 8080, internalHttpPort: 8081 });
    expect(d).toMatchObject({ namespace: 'wharf-system', ingressClass: 'wharf.ingress.networking.knative.dev', clusterDomain: 'cluster.local', identity: undefined });
    rmSync(dir, { recursive: true, force: true });
  });
});
