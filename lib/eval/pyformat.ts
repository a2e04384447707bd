/**
 * Python's number formatting where it differs from JavaScript's, so files the official scripts
 * write (and the tools that parse them) come out byte for byte: `f'{x:.4f}'` rounds exact ties
 * half to even (JavaScript's toFixed rounds them up), prints inf / nan, and keeps the sign of −0.
 */

/** `format(x, f'.{digits}f')`. */
export function pyFixed(x: number, digits: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  const sign = x < 0 || Object.is(x, -0) ? '-' : '';
  const a = Math.abs(x);
  // toFixed(100) is the exact decimal value of the double for every magnitude a metric takes.
  const exact = a.toFixed(100);
  const dot = exact.indexOf('.');
  const tail = exact.slice(dot + 1 + digits);
  const tie = tail[0] === '5' && /^50*$/.test(tail);
  let s: string;
  if (!tie) s = a.toFixed(digits);
  else {
    // Exactly halfway: round to the even last digit.
    const kept = exact.slice(0, dot + 1 + digits).replace(/\.$/, '');
    const last = Number(kept[kept.length - 1]);
    s = last % 2 === 0 ? kept : (Number(kept) + 10 ** -digits).toFixed(digits);
  }
  return sign + s;
}

/** `f'{s:{width}}'` for a string: left-aligned, padded with spaces, never cut. */
export function pyLeft(s: string, width: number): string {
  return s.padEnd(width);
}

/** `f'{n:{width}}'` for an int: right-aligned. */
export function pyRight(n: number, width: number): string {
  return String(n).padStart(width);
}
