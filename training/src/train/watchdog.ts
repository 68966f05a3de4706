// The MPI watchdog's time limits for training: generous at start-up, then proportional to the measured step time.
import { ConfigError } from '../util/cli.ts';

export interface WatchdogSettings {
  /** MOA_MPI_TIMEOUT_MS was set: that fixed limit for every collective (the binding reads it), no adaptation. */
  fixedMs: number | null;
  /** Limit before steps are measured: initial broadcasts (rank 0 may be reading a checkpoint), the first steps. */
  startupMs: number;
  /** Floor of the measured limit. */
  minMs: number;
  /** The measured limit is this many times the slowest of the first steps. */
  factor: number;
  /** How many steps are measured before the limit is set from them. */
  measureSteps: number;
}

export const WATCHDOG_DEFAULTS: Omit<WatchdogSettings, 'fixedMs'> = { startupMs: 600_000, minMs: 60_000, factor: 10, measureSteps: 3 };

const DECIMAL = /^(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i;

function envNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, check: (n: number) => boolean, rule: string): number {
  const text = env[name]?.trim();
  if (text === undefined || text === '') return fallback;
  const n = /^(?:inf|infinity)$/i.test(text) ? Number.POSITIVE_INFINITY : DECIMAL.test(text) ? Number(text) : Number.NaN;
  if (!check(n)) throw new ConfigError(`${name} must be ${rule}, got "${env[name]}".`);
  return n;
}

/** The watchdog settings from the environment (MOA_WATCHDOG_* and MOA_MPI_TIMEOUT_MS); a malformed value is a ConfigError. */
export function watchdogSettings(env: NodeJS.ProcessEnv = process.env): WatchdogSettings {
  const positive = (n: number) => n > 0;
  const fixed = env.MOA_MPI_TIMEOUT_MS?.trim();
  return {
    fixedMs: fixed === undefined || fixed === '' ? null : envNumber(env, 'MOA_MPI_TIMEOUT_MS', 0, (n) => n >= 0, 'a number of milliseconds >= 0 (0 or Infinity: no watchdog)'),
    startupMs: envNumber(env, 'MOA_WATCHDOG_STARTUP_MS', WATCHDOG_DEFAULTS.startupMs, positive, 'a positive number of milliseconds'),
    minMs: envNumber(env, 'MOA_WATCHDOG_MIN_MS', WATCHDOG_DEFAULTS.minMs, (n) => positive(n) && Number.isFinite(n), 'a positive number of milliseconds'),
    factor: envNumber(env, 'MOA_WATCHDOG_FACTOR', WATCHDOG_DEFAULTS.factor, (n) => n >= 1 && Number.isFinite(n), 'a number >= 1'),
    measureSteps: envNumber(env, 'MOA_WATCHDOG_STEPS', WATCHDOG_DEFAULTS.measureSteps, (n) => Number.isInteger(n) && n >= 1, 'an integer >= 1'),
  };
}

/** 2500 -> "2.5 s", 600000 -> "600 s". */
const seconds = (ms: number) => (Number.isFinite(ms) ? `${ms < 10_000 ? (ms / 1000).toFixed(1) : Math.round(ms / 1000)} s` : 'no limit');

/**
 * Limits for the collectives of a training run. Until `measureSteps` steps are measured (each from the end of the
 * previous collective to the end of its own allreduce, so it includes loading, compute, waiting for the slowest
 * rank and rank 0's checkpoint), every collective gets the start-up limit; then each step gets
 * max(minMs, factor x the slowest measured step). undefined means the binding's own default (MOA_MPI_TIMEOUT_MS).
 */
export class StepWatchdog {
  private readonly measured: number[] = [];
  private stepMs: number | null = null;

  constructor(readonly settings: WatchdogSettings) {}

  /** The slowest measured step (ms), or null before any. */
  slowestStepMs(): number | null {
    return this.measured.length ? Math.max(...this.measured) : null;
  }

  /** Limit for the next step's allreduce. */
  stepLimitMs(): number | undefined {
    if (this.settings.fixedMs !== null) return undefined;
    return this.stepMs ?? this.settings.startupMs;
  }

  /**
   * Limit for a collective that waits for `steps` step-times of one rank's work (rank 0 evaluating and exporting):
   * factor x slowest step x steps, never below the start-up limit.
   */
  phaseLimitMs(steps = 0): number | undefined {
    if (this.settings.fixedMs !== null) return undefined;
    const slowest = this.slowestStepMs();
    return Math.max(this.settings.startupMs, slowest === null ? 0 : this.settings.factor * slowest * steps);
  }

  /** Records one step's duration; returns the line to print when this measurement set the step limit. */
  recordStep(ms: number): string | null {
    if (this.settings.fixedMs !== null || this.stepMs !== null) return null;
    this.measured.push(ms);
    if (this.measured.length < this.settings.measureSteps) return null;
    const slowest = Math.max(...this.measured);
    const { factor, minMs } = this.settings;
    this.stepMs = Math.max(minMs, factor * slowest);
    const n = this.measured.length;
    return `watchdog: ${seconds(this.stepMs)} per step from now on (${factor} x ${seconds(slowest)}, the slowest of this run's first ${n} steps${this.stepMs === minMs ? `; at least ${seconds(minMs)}` : ''})`;
  }

  /** The line printed at start. */
  describe(): string {
    const s = this.settings;
    if (s.fixedMs !== null) return `watchdog: ${seconds(s.fixedMs === 0 ? Number.POSITIVE_INFINITY : s.fixedMs)} per collective (MOA_MPI_TIMEOUT_MS)`;
    return `watchdog: ${seconds(s.startupMs)} until ${s.measureSteps} steps are measured, then ${s.factor} x the slowest of them, at least ${seconds(s.minMs)} (MOA_WATCHDOG_STARTUP_MS, MOA_WATCHDOG_FACTOR, MOA_WATCHDOG_MIN_MS; MOA_MPI_TIMEOUT_MS fixes it)`;
  }
}
