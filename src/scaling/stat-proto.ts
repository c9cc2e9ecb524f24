// Knative's autoscaler stat messages (serving pkg/autoscaler/metrics/stat.proto), field numbers exactly as
// there: the activator sends WireStatMessages as one binary WebSocket frame per batch.
import protobuf from 'protobufjs';

const PROTO = `
syntax = "proto3";
package knative.dev.serving.pkg.autoscaler.metrics;

message Stat {
  string pod_name = 1;
  double average_concurrent_requests = 2;
  double average_proxied_concurrent_requests = 3;
  double request_count = 4;
  double proxied_request_count = 5;
  double process_uptime = 6;
  int64 timestamp = 7;
}

message WireStatMessage {
  string namespace = 1;
  string name = 2;
  Stat stat = 3;
}

message WireStatMessages {
  repeated WireStatMessage messages = 1;
}
`;

const root = protobuf.parse(PROTO).root;
export const StatType = root.lookupType('knative.dev.serving.pkg.autoscaler.metrics.Stat');
export const WireStatMessagesType = root.lookupType('knative.dev.serving.pkg.autoscaler.metrics.WireStatMessages');

export interface WireStat {
  podName: string;
  averageConcurrentRequests: number;
  averageProxiedConcurrentRequests: number;
  requestCount: number;
  proxiedRequestCount: number;
  processUptime: number;
  timestamp: number;
}

export interface WireStatMessage {
  namespace: string;
  name: string;
  stat: WireStat;
}

export function encodeWireStatMessages(messages: readonly WireStatMessage[]): Uint8Array {
  return WireStatMessagesType.encode(WireStatMessagesType.fromObject({ messages })).finish();
}

export function decodeWireStatMessages(buf: Uint8Array): WireStatMessage[] {
  const obj = WireStatMessagesType.toObject(WireStatMessagesType.decode(buf), { longs: Number, defaults: true }) as { messages?: WireStatMessage[] };
  return obj.messages ?? [];
}
