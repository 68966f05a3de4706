import { describe, expect, it } from 'vitest';
import { DemoUnavailableError, fetchDemoPlate } from '../../src/app/state/demo.ts';

function server(files: Record<string, string>): typeof fetch {
  return (async (url: string | URL | Request) => {
    const key = String(url);
    return key in files ? new Response(files[key]) : new Response('missing', { status: 404 });
  }) as typeof fetch;
}

describe('fetchDemoPlate', () => {
  it('downloads every listed file under demo/, keeps the rest when one fails, and reports progress', async () => {
    const index = { name: 'd', description: '', model: 'm', fields: 1, bytes: 0, files: ['BBBC021_v1_image.csv', 'Week1/Week1_1/B02_s1_w1.tif', 'Week1/Week1_1/B02 s1_w2.tif', 'Week1/Week1_1/gone.tif'] };
    const fetchFn = server({
      'demo/index.json': JSON.stringify(index),
      'demo/BBBC021_v1_image.csv': 'a,b\n',
      'demo/Week1/Week1_1/B02_s1_w1.tif': 'II*\0',
      'demo/Week1/Week1_1/B02%20s1_w2.tif': 'II*\0x',
    });
    const seen: number[] = [];
    const { drop } = await fetchDemoPlate('demo', (p) => seen.push(p.done), fetchFn, 2);
    expect(drop.files.map((f) => f.path)).toEqual(['demo/BBBC021_v1_image.csv', 'demo/Week1/Week1_1/B02 s1_w2.tif', 'demo/Week1/Week1_1/B02_s1_w1.tif']);
    expect(drop.files[1].file.name).toBe('B02 s1_w2.tif');
    expect(drop.files[1].file.size).toBe(5);
    expect(drop.problems).toEqual([{ path: 'demo/Week1/Week1_1/gone.tif', message: 'could not be downloaded: HTTP 404' }]);
    expect(seen.sort((a, b) => a - b)).toEqual([1, 2, 3, 4]);
  });

  it('says how to get the demo when the server has none', async () => {
    await expect(fetchDemoPlate('demo/', undefined, server({}))).rejects.toBeInstanceOf(DemoUnavailableError);
  });
});
