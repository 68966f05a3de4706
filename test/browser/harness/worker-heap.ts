// JS heap of dedicated workers over the browser's DevTools protocol (workers expose no performance.memory).
import type { BrowserContext, CDPSession } from 'playwright-core';

interface TargetInfo {
  targetId: string;
  type: string;
  url: string;
}

/** A browser-level CDP session that can run commands inside worker targets (non-flat target messaging). */
export class WorkerHeapProbe {
  private nextId = 1;
  private waiting = new Map<number, (result: unknown) => void>();
  private constructor(private readonly session: CDPSession) {
    session.on('Target.receivedMessageFromTarget', (event: { message: string }) => {
      const msg = JSON.parse(event.message) as { id?: number; result?: unknown; error?: unknown };
      if (msg.id !== undefined) this.waiting.get(msg.id)?.(msg.result ?? msg.error);
    });
  }

  static async open(context: BrowserContext): Promise<WorkerHeapProbe> {
    const browser = context.browser();
    if (!browser) throw new Error('No browser object for this context.');
    return new WorkerHeapProbe(await browser.newBrowserCDPSession());
  }

  private async call(sessionId: string, method: string, params: object = {}): Promise<unknown> {
    const id = this.nextId++;
    const done = new Promise<unknown>((resolve) => this.waiting.set(id, resolve));
    await this.session.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) } as never);
    const result = await done;
    this.waiting.delete(id);
    return result;
  }

  /** Used JS heap bytes of every worker whose URL contains `urlPart`, each after a full GC. */
  async heapBytes(urlPart: string): Promise<number[]> {
    const { targetInfos } = (await this.session.send('Target.getTargets')) as unknown as { targetInfos: TargetInfo[] };
    const workers = targetInfos.filter((t) => t.type === 'worker' && t.url.includes(urlPart));
    const sizes: number[] = [];
    for (const w of workers) {
      const { sessionId } = (await this.session.send('Target.attachToTarget', { targetId: w.targetId, flatten: false } as never)) as unknown as { sessionId: string };
      await this.call(sessionId, 'HeapProfiler.collectGarbage');
      const usage = (await this.call(sessionId, 'Runtime.getHeapUsage')) as { usedSize: number };
      sizes.push(usage.usedSize);
      await this.session.send('Target.detachFromTarget', { sessionId } as never);
    }
    return sizes;
  }

  async close(): Promise<void> {
    await this.session.detach();
  }
}
