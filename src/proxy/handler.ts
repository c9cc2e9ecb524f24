// Built-in handlers that a route can point at instead of a backend (broker ingress, channel ingress, ...).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Plane, Route, VirtualHost } from '../model/snapshot.js';

export interface LocalRequest {
  plane: Plane;
  host: string;
  vhost: VirtualHost;
  route: Route;
  requestId: string;
}

export interface LocalHandler {
  handle(req: IncomingMessage, res: ServerResponse, ctx: LocalRequest): void;
}
