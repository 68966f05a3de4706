// The downloader's progress on stderr: bytes, rate and ETA over all plates. On a terminal one line redrawn in
// place; otherwise (a log file, a CI job) a plain line every few seconds. Messages are printed between redraws.

import { formatBytes, formatSeconds } from '../../util/format.ts';

export type ItemState = 'waiting' | 'downloading' | 'unpacking' | 'done' | 'failed';

export interface ProgressOptions {
  /** Where lines go (stderr). */
  write: (text: string) => void;
  /** Redraw one line in place (a terminal) instead of printing plain lines. */
  tty: boolean;
  /** Period of the plain lines (ms); a terminal is redrawn every 250 ms. */
  plainEveryMs: number;
  /** Size assumed for an item whose size the server has not said yet (until one has: then their mean). */
  assumedItemBytes: number;
  now?: () => number;
}

interface Item {
  state: ItemState;
  size?: number;
  /** Bytes on disk, resumed ones included. */
  present: number;
}

const RATE_WINDOW_MS = 10_000;
const TTY_EVERY_MS = 250;

export class TransferProgress {
  private readonly items = new Map<string, Item>();
  /** (time, bytes received over the network so far): the rate is measured over the last RATE_WINDOW_MS. */
  private readonly samples: { at: number; received: number }[] = [];
  private received = 0;
  private timer: NodeJS.Timeout | undefined;
  private drawn = false;
  private readonly now: () => number;

  constructor(ids: readonly string[], private readonly options: ProgressOptions) {
    for (const id of ids) this.items.set(id, { state: 'waiting', present: 0 });
    this.now = options.now ?? (() => performance.now());
    this.samples.push({ at: this.now(), received: 0 });
  }

  start(): void {
    this.timer = setInterval(() => this.render(), this.options.tty ? TTY_EVERY_MS : this.options.plainEveryMs);
    this.timer.unref();
  }

  /** Stops redrawing and prints the last line. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.render();
    if (this.options.tty && this.drawn) this.options.write('\n');
    this.drawn = false;
  }

  setState(id: string, state: ItemState): void {
    this.item(id).state = state;
  }

  setSize(id: string, bytes: number): void {
    this.item(id).size = bytes;
  }

  /** Bytes already on disk when a transfer (re)starts: counted as done, not as rate. */
  setPresent(id: string, bytes: number): void {
    this.item(id).present = bytes;
  }

  /** Bytes received over the network and written. */
  addReceived(id: string, bytes: number): void {
    this.item(id).present += bytes;
    this.received += bytes;
  }

  /** A message line, printed above the progress line. */
  log(message: string): void {
    this.options.write(`${this.options.tty && this.drawn ? '\r\x1b[K' : ''}${message}\n`);
    this.drawn = false;
    if (this.options.tty) this.render();
  }

  /** The progress line: percent, bytes of total (~ while some sizes are assumed), rate, ETA, plates by state. */
  line(): string {
    const now = this.now();
    this.samples.push({ at: now, received: this.received });
    while (this.samples.length > 2 && now - this.samples[1].at >= RATE_WINDOW_MS) this.samples.shift();
    const first = this.samples[0];
    const seconds = (now - first.at) / 1000;
    const rate = seconds > 0 ? (this.received - first.received) / seconds : 0;
    const counted = [...this.items.values()].filter((item) => item.state !== 'failed');
    const known = counted.filter((item) => item.size !== undefined);
    const assumed = known.length > 0 ? known.reduce((sum, item) => sum + item.size!, 0) / known.length : this.options.assumedItemBytes;
    const total = counted.reduce((sum, item) => sum + (item.size ?? assumed), 0);
    const done = counted.reduce((sum, item) => sum + (item.state === 'done' ? (item.size ?? item.present) : Math.min(item.present, item.size ?? item.present)), 0);
    const estimated = known.length < counted.length ? '~' : '';
    const percent = total > 0 ? Math.min(100, (100 * done) / total) : 100;
    const eta = done >= total ? formatSeconds(0) : rate > 0 ? formatSeconds((total - done) / rate) : '?';
    const states = (['done', 'downloading', 'unpacking', 'waiting', 'failed'] as const)
      .map((state) => [state, [...this.items.values()].filter((item) => item.state === state).length] as const)
      .filter(([, n]) => n > 0)
      .map(([state, n]) => `${n} ${state}`)
      .join(', ');
    return `download: ${percent.toFixed(1)}% ${formatBytes(done)} of ${estimated}${formatBytes(total)}, ${formatBytes(rate)}/s, ETA ${eta}; plates: ${states}`;
  }

  private render(): void {
    const line = this.line();
    if (this.options.tty) {
      this.options.write(`\r\x1b[K${line}`);
      this.drawn = true;
    } else this.options.write(`${line}\n`);
  }

  private item(id: string): Item {
    let item = this.items.get(id);
    if (!item) this.items.set(id, (item = { state: 'waiting', present: 0 }));
    return item;
  }
}
