import { describe, expect, it } from 'vitest';
import { MOA_CLASSES } from '../../src/core/labels.ts';
import { MOA_COLOURS, classColour, contrastRatio, textOn } from '../../src/core/moa-colours.ts';

function rgb(hex: string): [number, number, number] {
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
}

describe('MoA colours', () => {
  it('gives each of the 13 classes its own colour', () => {
    expect(MOA_COLOURS).toHaveLength(MOA_CLASSES.length);
    expect(new Set(MOA_COLOURS.map((c) => c.toLowerCase())).size).toBe(13);
  });

  it('keeps every pair of colours apart (RGB distance)', () => {
    let min = Infinity;
    for (let i = 0; i < MOA_COLOURS.length; i++)
      for (let j = i + 1; j < MOA_COLOURS.length; j++) {
        const [a, b] = [rgb(MOA_COLOURS[i]), rgb(MOA_COLOURS[j])];
        min = Math.min(min, Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]));
      }
    expect(min).toBeGreaterThan(45);
  });

  it('resolves colours by class name, so a bundle with another order keeps the colours', () => {
    const reordered = ['DMSO', 'Actin disruptors'];
    expect(classColour(0, reordered)).toBe(MOA_COLOURS[12]);
    expect(classColour(1, reordered)).toBe(MOA_COLOURS[0]);
    expect(classColour(3)).toBe(MOA_COLOURS[3]);
    expect(classColour(1, ['unknown a', 'unknown b'])).toBe(MOA_COLOURS[1]);
  });

  it('picks black or white text that reads at WCAG AA large-text contrast on every colour', () => {
    for (const c of MOA_COLOURS) expect(contrastRatio(c, textOn(c))).toBeGreaterThanOrEqual(3);
    expect(textOn('#FFFFFF')).toBe('#000000');
    expect(textOn('#000000')).toBe('#FFFFFF');
    expect(contrastRatio('#000000', '#FFFFFF')).toBeCloseTo(21, 5);
  });
});
