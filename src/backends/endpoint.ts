// A live endpoint of a target. The Endpoint handed to the forwarder IS this object, so release() finds its
// counters without a map lookup or an allocation.
import type { Endpoint } from './types.js';

/** Whoever produced an endpoint (a resolver, a process instance, an address list) and can re-check it. */
export interface EndpointOwner {
  /** The endpoint failed mid-flight and was taken out; probe it until it answers again, then call target.setReady. */
  endpointFailed(ep: BackendEndpoint): void;
  /** The endpoint was removed with draining requested and its last in-flight request just finished. */
  endpointDrained?(ep: BackendEndpoint): void;
}

export class BackendEndpoint implements Endpoint {
  readonly origin: string;
  readonly protocol: 'http1' | 'h2c';
  readonly owner: EndpointOwner;
  /** Answers its readiness check (or is trusted) and not removed. */
  ready = false;
  /** Removed from the target: gets no new requests; `owner.endpointDrained` fires when inFlight reaches 0. */
  removed = false;
  inFlight = 0;
  /** Requests granted over the endpoint's life (for tests and debug). */
  served = 0;

  constructor(origin: string, protocol: 'http1' | 'h2c', owner: EndpointOwner) {
    this.origin = origin;
    this.protocol = protocol;
    this.owner = owner;
  }
}

/** `http://host:port` with IPv6 literals bracketed. */
export function originOf(scheme: string, address: string, port: number): string {
  return address.includes(':') ? `${scheme}//[${address}]:${port}` : `${scheme}//${address}:${port}`;
}
