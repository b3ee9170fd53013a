/**
 * JSON.parse with 64-bit integers kept exact. Clients may send int64 fields as JSON numbers
 * (etcd's gateway accepts both numbers and strings), and JSON.parse rounds integers above
 * 2^53: a lease id 7587855141790572292 would silently become 7587855141790572000. Integer
 * literals of 16 digits or more (where doubles start to round) are turned into strings before
 * parsing, and the codec reads 64-bit fields from strings exactly. No other field of etcd's
 * API holds integers that long.
 */

/** 2^53 has 16 digits: anything shorter is exact as a double. */
const SAFE_DIGITS = 15;

export function parseJsonExact(text: string): unknown {
  return JSON.parse(quoteLongIntegers(text));
}

/** Wraps integer literals (outside strings) of more than SAFE_DIGITS digits in quotes. */
export function quoteLongIntegers(text: string): string {
  let out = '';
  let copied = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === '\\') i++;
      else if (char === '"') inString = false;
      continue;
    }
    if (char === '"') {
      inString = true;
      continue;
    }
    if (char !== '-' && (char < '0' || char > '9')) continue;
    let end = i + 1;
    while (end < text.length && text[end] >= '0' && text[end] <= '9') end++;
    const digits = end - i - (char === '-' ? 1 : 0);
    // A fraction or exponent makes it no integer literal: leave it to JSON.parse.
    const integer = end >= text.length || !/[.eE]/.test(text[end]);
    if (digits > SAFE_DIGITS && integer) {
      out += `${text.slice(copied, i)}"${text.slice(i, end)}"`;
      copied = end;
    }
    i = end - 1;
  }
  return copied === 0 ? text : out + text.slice(copied);
}
