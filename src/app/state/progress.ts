// Progress maths for the progress bar: fraction, a smoothed rate, ETA, and how they read to a person.

export interface ProgressSample {
  done: number;
  total: number;
  /** Milliseconds since the run started. */
  elapsedMs: number;
}

export interface ProgressView {
  done: number;
  total: number;
  /** 0..1 */
  fraction: number;
  /** Fields per second over the recent window; null until two samples span time. */
  rate: number | null;
  /** Seconds left at `rate`; null while unknown, 0 when done. */
  etaSeconds: number | null;
}

/** How far back the rate looks: long enough to smooth, short enough to follow a change of pace. */
export const RATE_WINDOW_MS = 10_000;

/**
 * Keeps recent samples and reports the rate over the last RATE_WINDOW_MS (falling back to the
 * whole run while it is shorter), so the ETA neither jumps on every field nor lags for minutes.
 */
export class ProgressTracker {
  private samples: ProgressSample[] = [];

  constructor(private readonly windowMs = RATE_WINDOW_MS) {}

  reset(): void {
    this.samples = [];
  }

  add(sample: ProgressSample): ProgressView {
    const last = this.samples[this.samples.length - 1];
    if (last && (sample.elapsedMs < last.elapsedMs || sample.done < last.done)) this.samples = [];
    this.samples.push(sample);
    // Keep one sample at or before the window start so the window is always fully spanned.
    const start = sample.elapsedMs - this.windowMs;
    while (this.samples.length > 2 && this.samples[1].elapsedMs <= start) this.samples.shift();
    return this.view();
  }

  view(): ProgressView {
    const last = this.samples[this.samples.length - 1];
    if (!last) return { done: 0, total: 0, fraction: 0, rate: null, etaSeconds: null };
    const first = this.samples[0];
    // A run that starts at zero: measure from its start so the first fields count.
    const from = this.samples.length === 1 ? { done: 0, elapsedMs: 0 } : first;
    const dt = last.elapsedMs - from.elapsedMs;
    const dn = last.done - from.done;
    const rate = dt > 0 && dn > 0 ? (dn * 1000) / dt : null;
    const remaining = Math.max(0, last.total - last.done);
    return {
      done: last.done,
      total: last.total,
      fraction: last.total > 0 ? Math.min(1, last.done / last.total) : 0,
      rate,
      etaSeconds: remaining === 0 ? 0 : rate ? remaining / rate : null,
    };
  }
}

/** "1.5 fields/s", "12 fields/min" for slow runs. */
export function formatRate(rate: number | null): string {
  if (rate === null || !Number.isFinite(rate)) return '–';
  if (rate < 1) return `${(rate * 60).toFixed(rate * 60 < 10 ? 1 : 0)} fields/min`;
  return `${rate.toFixed(rate < 10 ? 1 : 0)} fields/s`;
}

/** "45 s", "3 min 05 s", "2 h 07 min"; "–" while unknown. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '–';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}
