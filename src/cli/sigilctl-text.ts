/**
 * Text helpers that reproduce how etcdctl 3.4 renders values, so sigilctl's output can be diffed
 * against etcdctl's: Go's encoding/json for response structs, tablewriter's boxed tables and
 * go-humanize's byte sizes.
 */

/** A JSON value that may hold bigints (64-bit ids), printed as exact integers like Go does. */
export type GoJsonValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | Uint8Array
  | GoJsonValue[]
  | { [field: string]: GoJsonValue | undefined };

/**
 * Go's json.Marshal of etcd's generated structs: every field is `omitempty`, so zero numbers,
 * false, empty strings, empty bytes, nil messages and empty lists are left out; bytes are base64.
 */
export function goJson(value: GoJsonValue): string {
  if (value === null) return 'null';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (value instanceof Uint8Array) return JSON.stringify(Buffer.from(value).toString('base64'));
  if (Array.isArray(value)) return `[${value.map(goJson).join(',')}]`;
  const fields: string[] = [];
  for (const [name, field] of Object.entries(value)) {
    if (isEmpty(field)) continue;
    fields.push(`${JSON.stringify(name)}:${goJson(field as GoJsonValue)}`);
  }
  return `{${fields.join(',')}}`;
}

function isEmpty(field: GoJsonValue | undefined): boolean {
  if (field === undefined || field === null) return true;
  if (field === 0 || field === 0n || field === false || field === '') return true;
  if (field instanceof Uint8Array || Array.isArray(field)) return field.length === 0;
  return false;
}

/**
 * tablewriter as etcdctl configures it: header centred and upper-case, cells right-aligned, one
 * space of padding inside each border.
 */
export function renderTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const rule = `+${widths.map((width) => '-'.repeat(width + 2)).join('+')}+`;
  const centre = (text: string, width: number): string => {
    const left = Math.floor((width - text.length) / 2);
    return ' '.repeat(left) + text + ' '.repeat(width - text.length - left);
  };
  const headerLine = `| ${header.map((title, i) => centre(title, widths[i])).join(' | ')} |`;
  const lines = [rule, headerLine, rule];
  for (const row of rows) {
    lines.push(`| ${widths.map((width, i) => (row[i] ?? '').padStart(width)).join(' | ')} |`);
  }
  lines.push(rule);
  return lines.join('\n');
}

/** Go's %.0f: exact ties round to even (20.5 → "20"), unlike Number.toFixed. */
function formatNoDecimals(value: number): string {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction === 0.5) return String(floor % 2 === 0 ? floor : floor + 1);
  return value.toFixed(0);
}

/** go-humanize's Bytes: SI units (1 kB = 1000 B), one decimal below 10 units. */
export function humanizeBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  if (bytes < 10) return `${bytes} B`;
  const exponent = Math.floor(Math.log(bytes) / Math.log(1000));
  const unit = units[exponent];
  const scaled = Math.floor((bytes / 1000 ** exponent) * 10 + 0.5) / 10;
  return scaled < 10 ? `${scaled.toFixed(1)} ${unit}` : `${formatNoDecimals(scaled)} ${unit}`;
}

/** Go durations as etcdctl's flags take them: `5s`, `500ms`, `1m30s`; a bare number is seconds. */
export function parseDurationMs(text: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const unitsMs: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    ms: 1,
    s: 1e3,
    m: 6e4,
    h: 36e5,
  };
  let total = 0;
  let rest = text;
  while (rest.length > 0) {
    const match = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/.exec(rest);
    if (match === null) throw new Error(`invalid duration "${text}"`);
    total += Number(match[1]) * unitsMs[match[2]];
    rest = rest.slice(match[0].length);
  }
  return total;
}
