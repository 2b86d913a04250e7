// Go's time.Duration text ("90s", "1m30s", "1.5h", "300ms"), as metav1.Duration and the legacy
// ConfigMap both write it.

const unitSeconds: Readonly<Record<string, number>> = {
  ns: 1e-9,
  us: 1e-6,
  'µs': 1e-6, // U+00B5 micro sign
  'μs': 1e-6, // U+03BC Greek mu
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
};

const component = /^(\d*)(?:\.(\d*))?([a-zµμ]+)/;

/** Seconds (possibly fractional, possibly negative), or undefined if `text` is not a Go duration. */
export function parseGoDuration(text: string): number | undefined {
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s.startsWith('-')) sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return undefined;
  let total = 0;
  while (s !== '') {
    const m = component.exec(s);
    if (!m) return undefined;
    const [whole, intPart = '', fracPart, unit = ''] = m;
    if (intPart === '' && (fracPart === undefined || fracPart === '')) return undefined;
    const scale = unitSeconds[unit];
    if (scale === undefined) return undefined;
    total += Number(`${intPart || '0'}.${fracPart || '0'}`) * scale;
    s = s.slice(whole.length);
  }
  return sign * total;
}

/** Whole seconds as Go prints them: 90 → "1m30s", 0 → "0s". */
export function formatGoDuration(seconds: number): string {
  if (seconds === 0) return '0s';
  let rest = Math.trunc(seconds);
  const h = Math.floor(rest / 3600);
  rest -= h * 3600;
  const m = Math.floor(rest / 60);
  rest -= m * 60;
  return `${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${rest}s`;
}
