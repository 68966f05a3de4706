// The app's confirm step for unverified models: shipped and signed bundles run, an unverified one only after the user accepts that exact bundle.
import { describe, expect, it } from 'vitest';
import { trustBadge, UnverifiedConsent } from '../../src/app/state/model-trust.ts';
import type { BundleTrust } from '../../src/engine/index.ts';

const bundle = (hash: string, status: BundleTrust['status']) => ({ hash, trust: { status, detail: `${status} because` } });

describe('unverified-model consent', () => {
  it('lets shipped and signed bundles run at once', () => {
    const consent = new UnverifiedConsent();
    for (const b of [bundle('a', 'shipped'), bundle('b', 'signed')]) {
      expect(consent.needsConfirmation(b)).toBe(false);
      expect(consent.mayRun(b)).toBe(true);
    }
    expect(consent.mayRun(null)).toBe(false);
  });

  it('holds an unverified bundle until the user accepts it, and asks again for any other bundle', () => {
    const tampered = bundle('c', 'unverified');
    const before = new UnverifiedConsent();
    expect(before.needsConfirmation(tampered)).toBe(true);
    expect(before.mayRun(tampered)).toBe(false);
    const after = before.accept(tampered);
    expect(after.mayRun(tampered)).toBe(true);
    expect(before.mayRun(tampered)).toBe(false);
    expect(after.needsConfirmation(bundle('d', 'unverified'))).toBe(true);
  });

  it('shows the status with its reason', () => {
    expect(trustBadge(bundle('a', 'shipped'))).toEqual({ status: 'shipped', text: 'shipped', tone: 'good', detail: 'shipped because' });
    expect(trustBadge(bundle('b', 'signed'))).toMatchObject({ text: 'signed', tone: 'good' });
    expect(trustBadge(bundle('c', 'unverified'))).toMatchObject({ text: 'unverified', tone: 'warn', detail: 'unverified because' });
  });
});
