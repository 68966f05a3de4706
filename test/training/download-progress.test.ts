// The downloader's progress line (bytes, rate, ETA over all plates, on a controlled clock) and its argument parser.
import { describe, expect, it } from 'vitest';
import { TransferProgress } from '../../training/src/data/download/progress.ts';
import { parseDataArgs } from '../../training/src/data-bbbc021-cli.ts';
import { BBBC021_BASE_URL } from '../../training/src/data/download/bbbc021-download.ts';

function progressAt(ids: string[]) {
  let now = 0;
  const written: string[] = [];
  const progress = new TransferProgress(ids, { write: (t) => written.push(t), tty: false, plainEveryMs: 1000, assumedItemBytes: 800e6, now: () => now });
  return { progress, written, advance: (ms: number) => (now += ms) };
}

describe('download progress line', () => {
  it('assumes sizes until the server says them, then reports bytes, rate and ETA', () => {
    const { progress, advance } = progressAt(['A', 'B']);
    expect(progress.line()).toBe('download: 0.0% 0 B of ~1.60 GB, 0 B/s, ETA ?; plates: 2 waiting');
    progress.setState('A', 'downloading');
    progress.setSize('A', 100e6);
    advance(2000);
    progress.addReceived('A', 20e6);
    // B is assumed as large as A (the mean of the known sizes): 180 MB left at 10 MB/s.
    expect(progress.line()).toBe('download: 10.0% 20.0 MB of ~200.0 MB, 10.0 MB/s, ETA 0m18s; plates: 1 downloading, 1 waiting');
  });

  it('counts resumed bytes as done but not as rate, and leaves failed plates out of the total', () => {
    const { progress, advance } = progressAt(['A', 'B']);
    progress.setSize('A', 100e6);
    progress.setSize('B', 50e6);
    progress.setPresent('A', 60e6);
    advance(4000);
    progress.addReceived('A', 20e6);
    expect(progress.line()).toBe('download: 53.3% 80.0 MB of 150.0 MB, 5.0 MB/s, ETA 0m14s; plates: 2 waiting');
    progress.setState('B', 'failed');
    progress.setState('A', 'done');
    expect(progress.line()).toBe('download: 100.0% 100.0 MB of 100.0 MB, 5.0 MB/s, ETA 0m00s; plates: 1 done, 1 failed');
  });

  it('measures the rate over the last 10 s only', () => {
    const { progress, advance } = progressAt(['A']);
    progress.setSize('A', 1e9);
    for (let s = 0; s < 30; s++) {
      advance(1000);
      progress.addReceived('A', s < 20 ? 10e6 : 1e6); // 10 MB/s, then 1 MB/s
      progress.line();
    }
    expect(progress.line()).toMatch(/, 1\.0 MB\/s,/);
  });

  it('prints messages as their own lines and ends with a final progress line', () => {
    const { progress, written } = progressAt(['A']);
    progress.log('A: unpacked into Week1/Week1_22123');
    progress.setState('A', 'done');
    progress.setSize('A', 10);
    progress.stop();
    expect(written).toEqual(['A: unpacked into Week1/Week1_22123\n', 'download: 100.0% 10 B of 10 B, 0 B/s, ETA 0m00s; plates: 1 done\n']);
  });
});

describe('download progress on a terminal', () => {
  it('redraws one line in place and clears it for a message', () => {
    let now = 0;
    const written: string[] = [];
    const progress = new TransferProgress(['A'], { write: (t) => written.push(t), tty: true, plainEveryMs: 1000, assumedItemBytes: 10, now: () => now });
    progress.setSize('A', 10);
    progress.stop(); // draws the line, then ends it
    expect(written).toEqual(['\r\x1b[Kdownload: 0.0% 0 B of 10 B, 0 B/s, ETA ?; plates: 1 waiting', '\n']);
    written.length = 0;
    progress.log('first'); // nothing drawn yet: no clearing
    progress.log('second'); // the line drawn after 'first' is cleared before 'second'
    expect(written).toEqual(['first\n', '\r\x1b[Kdownload: 0.0% 0 B of 10 B, 0 B/s, ETA ?; plates: 1 waiting', '\r\x1b[Ksecond\n', '\r\x1b[Kdownload: 0.0% 0 B of 10 B, 0 B/s, ETA ?; plates: 1 waiting']);
  });
});

describe('data:bbbc021 arguments', () => {
  it('has defaults for everything but --out', () => {
    expect(parseDataArgs(['--out', 'd'])).toEqual({
      out: 'd', baseUrl: BBBC021_BASE_URL, plates: undefined, labelledOnly: false, concurrency: 2, retries: 5, backoffSeconds: 1,
      timeoutSeconds: 60, sha256File: undefined, keepZips: false, metadata: expect.stringMatching(/training[/\\]data[/\\]bbbc021$/), progressEverySeconds: 10,
    });
  });

  it('reads every flag, and ends a mirror URL with a slash so zip names resolve under it', () => {
    const opts = parseDataArgs(['--out', 'd', '--base-url', 'http://mirror.lab/bbbc021', '--plates', 'Week1_22123,Week2_24121', '--plates', 'Week3_25421', '--labelled-only', '--concurrency', '4', '--retries', '0', '--backoff', '0.5', '--timeout', '30', '--sha256', 's.txt', '--keep-zips', '--metadata', 'm', '--progress-every', '2']);
    expect(opts).toMatchObject({ baseUrl: 'http://mirror.lab/bbbc021/', plates: ['Week1_22123', 'Week2_24121', 'Week3_25421'], labelledOnly: true, concurrency: 4, retries: 0, backoffSeconds: 0.5, timeoutSeconds: 30, sha256File: 's.txt', keepZips: true, metadata: 'm', progressEverySeconds: 2 });
  });

  it.each([
    [[], /--out <dir> is required/],
    [['--out', 'd', '--base-url', 'ftp://x/'], /--base-url needs an http or https URL/],
    [['--out', 'd', '--concurrency', '0'], /--concurrency needs an integer of at least 1/],
    [['--out', 'd', '--timeout', '0'], /--timeout needs a positive number/],
    [['--out', 'd', '--retries', 'many'], /--retries needs an integer/],
    [['--out', 'd', '--fast'], /Unknown flag --fast/],
    [['--out'], /--out needs a value/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseDataArgs(argv as string[])).toThrow(message);
  });
});
