// Knative-style status conditions, shared by the KIngress and the Broker/Trigger status writers: sorted by type,
// lastTransitionTime kept while a condition's status does not change (as Knative's lifecycle helpers do).

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

/** [type, status, reason?, message?]: one wanted condition (empty reason/message are left out). */
export type WantedCondition = [string, Condition['status'], string?, string?];

const time = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

/** The conditions `want` describes, carrying over `prev.conditions`' transition times where the status is unchanged. */
export function conditions(prev: any, want: readonly WantedCondition[], nowMs: number): Condition[] {
  const old: Condition[] = Array.isArray(prev?.conditions) ? prev.conditions : [];
  return want
    .map(([type, status, reason, message]) => {
      const o = old.find((c) => c.type === type);
      const c: Condition = { type, status, lastTransitionTime: o && o.status === status && o.lastTransitionTime ? o.lastTransitionTime : time(nowMs) };
      if (reason) c.reason = reason;
      if (message) c.message = message;
      return c;
    })
    .sort((a, b) => (a.type < b.type ? -1 : 1));
}

/** A status as JSON without the conditions' transition times: equal keys mean writing would change nothing. */
export const statusKey = (s: any): string =>
  JSON.stringify({ ...s, conditions: (s?.conditions ?? []).map((c: Condition) => ({ ...c, lastTransitionTime: undefined })) });
