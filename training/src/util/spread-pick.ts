/** Up to `n` items spread evenly over the list (a treatment's fields from different wells and plates; calibration fields from every plate). */
export function spreadPick<T>(items: readonly T[], n: number): T[] {
  if (n >= items.length) return items.slice();
  const out: T[] = [];
  for (let k = 0; k < n; k++) out.push(items[Math.floor(((k + 0.5) * items.length) / n)]);
  return out;
}
