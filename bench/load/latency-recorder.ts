/**
 * Latency percentiles from the raw samples. A run's size is fixed up front, so every sample is
 * kept (8 bytes each) and percentiles are exact after one sort, instead of bucket approximations.
 */
export interface LatencySummary {
  readonly count: number;
  readonly meanMs: number;
  readonly minMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

export function summarizeLatencies(parts: readonly Float64Array[]): LatencySummary {
  const count = parts.reduce((sum, part) => sum + part.length, 0);
  const sorted = new Float64Array(count);
  let offset = 0;
  for (const part of parts) {
    sorted.set(part, offset);
    offset += part.length;
  }
  sorted.sort();
  // Nearest-rank percentile: the smallest sample with at least q of all samples at or below it.
  const at = (quantile: number): number =>
    count === 0 ? 0 : sorted[Math.min(count - 1, Math.max(0, Math.ceil(quantile * count) - 1))];
  let sum = 0;
  for (const sample of sorted) sum += sample;
  return {
    count,
    meanMs: count === 0 ? 0 : sum / count,
    minMs: count === 0 ? 0 : sorted[0],
    p50Ms: at(0.5),
    p90Ms: at(0.9),
    p99Ms: at(0.99),
    p999Ms: at(0.999),
    maxMs: count === 0 ? 0 : sorted[count - 1],
  };
}
