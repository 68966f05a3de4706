// One file over HTTP(S) into `<file>.part`, resumed with Range after a dropped connection, retried with
// exponential backoff on network errors and 5xx, checked against Content-Length, renamed into place when whole.

import http from 'node:http';
import https from 'node:https';
import { open, rename, rm, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** The server has no such file (HTTP 404 or 410): reported as missing, never retried. */
export class MissingOnServerError extends Error {
  constructor(readonly url: string, readonly status: number) {
    super(`not on the server (HTTP ${status}): ${url}`);
    this.name = 'MissingOnServerError';
  }
}

/** A download that failed for good: a non-retryable HTTP status, or the retries were used up. */
export class DownloadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DownloadError';
  }
}

/** A failure worth another attempt: a network error, a stall, a short body, HTTP 5xx or 429. */
class TransientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransientError';
  }
}

export interface DownloadOptions {
  /** Attempts after a failure that made no progress (an attempt that added bytes to the .part does not count). */
  retries: number;
  /** Wait before the first retry; doubled after each further failure without progress (capped at 60 s). */
  backoffMs: number;
  /** Give up on a connection that sends nothing for this long. */
  idleTimeoutMs: number;
  /** The size of the whole file once the server says it (Content-Length, or the total of Content-Range). */
  onSize?: (bytes: number) => void;
  /** Bytes already in the .part when an attempt resumes (0 when it starts over). */
  onResume?: (bytes: number) => void;
  /** Bytes received and written. */
  onBytes?: (bytes: number) => void;
  /** A failed attempt about to be retried. */
  onRetry?: (message: string, delayMs: number) => void;
}

export interface DownloadResult {
  size: number;
  /** HTTP requests made (1 when nothing went wrong). */
  attempts: number;
  /** Offsets at which a request resumed the .part with Range (empty when the file came in one piece). */
  resumedAt: number[];
  /** Bytes received over the network in this call (the .part's earlier bytes excluded). */
  received: number;
}

const MAX_REDIRECTS = 5;
const MAX_BACKOFF_MS = 60_000;

/**
 * Downloads `url` to `file`: bytes go to `file + '.part'` (resumed with `Range: bytes=N-` when one is there, from an
 * earlier attempt or an earlier run); the .part is renamed to `file` once its size equals the size the server gave.
 */
export async function downloadFile(url: string, file: string, options: DownloadOptions): Promise<DownloadResult> {
  const part = `${file}.part`;
  let attempts = 0;
  let failuresWithoutProgress = 0;
  let received = 0;
  const resumedAt: number[] = [];
  for (;;) {
    const have = await sizeOf(part);
    attempts++;
    try {
      const outcome = await attempt(url, part, have, options, (n) => (received += n));
      if (outcome.resumed) resumedAt.push(have);
      await rename(part, file);
      return { size: outcome.size, attempts, resumedAt, received };
    } catch (error) {
      if (!(error instanceof TransientError)) throw error;
      const progressed = (await sizeOf(part)) > have;
      failuresWithoutProgress = progressed ? 0 : failuresWithoutProgress + 1;
      if (failuresWithoutProgress > options.retries) {
        throw new DownloadError(`${url}: ${error.message} (gave up after ${attempts} attempt${attempts > 1 ? 's' : ''}, ${options.retries} retr${options.retries === 1 ? 'y' : 'ies'} without progress)`, { cause: error });
      }
      const delayMs = Math.min(MAX_BACKOFF_MS, options.backoffMs * 2 ** Math.max(0, failuresWithoutProgress - 1));
      options.onRetry?.(error.message, delayMs);
      await sleep(delayMs);
    }
  }
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

interface AttemptOutcome {
  size: number;
  resumed: boolean;
}

/** One request: appends to the .part from `have` (206) or rewrites it (200); throws TransientError to be retried. */
async function attempt(url: string, part: string, have: number, options: DownloadOptions, count: (bytes: number) => void): Promise<AttemptOutcome> {
  let stalled = false;
  const response = await get(url, have > 0 ? { Range: `bytes=${have}-` } : {}, options.idleTimeoutMs, () => (stalled = true));
  const status = response.statusCode ?? 0;
  response.on('error', () => undefined); // a failure mid-body surfaces through the iteration below
  try {
    if (status === 404 || status === 410) throw new MissingOnServerError(url, status);
    if (status >= 500 || status === 429) throw new TransientError(`HTTP ${status} ${response.statusMessage ?? ''}`.trim());
    if (status === 416) {
      // The .part is at least as long as the file: whole if the sizes agree, else start over.
      const total = /\/(\d+)$/.exec(response.headers['content-range'] ?? '')?.[1];
      if (total !== undefined && Number(total) === have) return { size: have, resumed: true };
      await rm(part, { force: true });
      throw new TransientError(`the server refused to resume at byte ${have} (HTTP 416); starting over`);
    }
    if (status !== 200 && status !== 206) throw new DownloadError(`${url}: HTTP ${status} ${response.statusMessage ?? ''}`.trim());
    let start = 0;
    let total: number | undefined;
    if (status === 206) {
      const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response.headers['content-range'] ?? '');
      if (!range || Number(range[1]) !== have) {
        await rm(part, { force: true });
        throw new TransientError(`the server answered the range request with "${response.headers['content-range'] ?? 'no Content-Range'}"; starting over`);
      }
      start = have;
      total = range[3] === '*' ? undefined : Number(range[3]);
    } else {
      const length = response.headers['content-length'];
      total = length === undefined ? undefined : Number(length);
    }
    if (total !== undefined) options.onSize?.(total);
    options.onResume?.(start);
    const handle = await open(part, start > 0 ? 'a' : 'w');
    let written = start;
    try {
      try {
        for await (const chunk of response as AsyncIterable<Buffer>) {
          await handle.write(chunk);
          written += chunk.length;
          count(chunk.length);
          options.onBytes?.(chunk.length);
        }
      } catch (error) {
        if ((error as NodeJS.ErrnoException).syscall === 'write') throw error; // the local disk: not the network's fault
        const why = stalled ? `no data for ${options.idleTimeoutMs / 1000} s` : (error as Error).message;
        throw new TransientError(`the connection failed at byte ${written}${total === undefined ? '' : ` of ${total}`} (${why})`, { cause: error });
      }
    } finally {
      await handle.close();
    }
    if (total !== undefined && written !== total) throw new TransientError(`the connection closed at byte ${written} of ${total}`);
    return { size: written, resumed: start > 0 };
  } finally {
    response.destroy(); // a body left unread (an error page) must not keep the connection
  }
}

/** GET with redirects followed; an idle socket is destroyed after `idleTimeoutMs` (`onStall` says so). Network errors are TransientErrors. */
function get(url: string, headers: Record<string, string>, idleTimeoutMs: number, onStall: () => void, redirects = 0): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const client = target.protocol === 'https:' ? https : http;
    const request = client.get(target, { headers: { 'User-Agent': 'moa-lens-data-bbbc021', ...headers } }, (response) => {
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if (status >= 300 && status < 400 && location) {
        response.resume();
        if (redirects >= MAX_REDIRECTS) reject(new DownloadError(`${url}: more than ${MAX_REDIRECTS} redirects`));
        else get(new URL(location, target).toString(), headers, idleTimeoutMs, onStall, redirects + 1).then(resolve, reject);
        return;
      }
      resolve(response);
    });
    request.setTimeout(idleTimeoutMs, () => {
      onStall();
      request.destroy(new Error(`no data for ${idleTimeoutMs / 1000} s`));
    });
    request.on('error', (error) => reject(new TransientError((error as Error).message || String(error), { cause: error })));
  });
}
