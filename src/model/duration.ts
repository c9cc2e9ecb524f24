// Go `time.ParseDuration` syntax ("300ms", "1m30s", "2h") and plain numbers, because Knative's ConfigMaps and
// annotations accept both. Pure; returns null on anything it cannot read.

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3,
  'μs': 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Parses a Go duration string into milliseconds. "0" is valid; a bare number is not (Go rejects it too). */
export function parseGoDuration(raw: string): number | null {
  let s = raw.trim();
  if (s === '') return null;
  let sign = 1;
  if (s[0] === '-' || s[0] === '+') {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return null;
  let total = 0;
  let i = 0;
  while (i < s.length) {
    const numStart = i;
    while (i < s.length && ((s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) || s[i] === '.')) i++;
    const num = s.slice(numStart, i);
    if (num === '' || num === '.' || num.split('.').length > 2) return null;
    const unitStart = i;
    while (i < s.length && !((s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) || s[i] === '.')) i++;
    const unit = s.slice(unitStart, i);
    const mult = UNIT_MS[unit];
    if (mult === undefined) return null;
    total += Number(num) * mult;
  }
  return sign * total;
}

/**
 * Seconds from either an integer/decimal number of seconds ("30", "1.5") or a Go duration ("30s", "2m").
 * Returns null when neither reads.
 */
export function parseSecondsOrDuration(raw: string): number | null {
  const s = raw.trim();
  if (/^[+-]?\d+(\.\d+)?$/.test(s)) return Number(s);
  const ms = parseGoDuration(s);
  return ms === null ? null : ms / 1000;
}

/** strconv.ParseBool, which is what Knative uses for boolean ConfigMap keys. */
export function parseGoBool(raw: string): boolean | null {
  switch (raw.trim()) {
    case '1': case 't': case 'T': case 'true': case 'TRUE': case 'True':
      return true;
    case '0': case 'f': case 'F': case 'false': case 'FALSE': case 'False':
      return false;
    default:
      return null;
  }
}
