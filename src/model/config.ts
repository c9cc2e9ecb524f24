// Cluster-wide settings, read from Knative's own ConfigMaps (names and keys as Knative spells them).
// Each capability parses its own keys out of `raw` with a pure function; this file holds the core ones.
// (Owned by the model; parseConfig is filled in by the model work.)

export interface DomainSelector {
  domain: string;
  /** label selector (matchLabels); empty = default domain */
  selector: Record<string, string>;
}

export interface ClusterConfig {
  /** The raw ConfigMaps, by name, for capability-specific parsing. */
  raw: Readonly<Record<string, Readonly<Record<string, string>>>>;
  clusterDomain: string;
  domains: DomainSelector[];
  network: {
    domainTemplate: string;
    tagTemplate: string;
    autocreateClusterDomainClaims: boolean;
    rolloutDurationSeconds: number;
    httpProtocol: 'enabled' | 'redirected' | 'disabled';
    ingressClass: string;
  };
  features: { tagHeaderBasedRouting: boolean };
  defaults: { revisionTimeoutSeconds: number; containerConcurrency: number };
  wharf: {
    accessLog: boolean;
    /** milliseconds; listener drain after SIGTERM */
    drainTimeoutMs: number;
    /** delay between /readyz turning 503 and listeners closing */
    drainDelayMs: number;
  };
}
