// Whether the loaded model may run: a shipped or signed bundle runs; an unverified one only once the user has said so for that exact bundle.
import type { BundleTrust, LoadedBundle } from '../../engine/index.ts';

type TrustedBundle = Pick<LoadedBundle, 'hash' | 'trust'>;

export interface TrustBadge {
  status: BundleTrust['status'];
  /** Short word for the header. */
  text: string;
  /** Colour of the tag. */
  tone: 'good' | 'warn';
  /** Why, for a tooltip or the banner. */
  detail: string;
}

const TEXT: Record<BundleTrust['status'], { text: string; tone: TrustBadge['tone'] }> = {
  shipped: { text: 'shipped', tone: 'good' },
  signed: { text: 'signed', tone: 'good' },
  unverified: { text: 'unverified', tone: 'warn' },
};

export function trustBadge(bundle: TrustedBundle): TrustBadge {
  return { status: bundle.trust.status, ...TEXT[bundle.trust.status], detail: bundle.trust.detail };
}

/**
 * The unverified bundles the user chose to run, by the sha256 of their moa-lens.json: a different bundle
 * (even one with the same name, or the same folder changed) asks again.
 */
export class UnverifiedConsent {
  private readonly accepted: ReadonlySet<string>;

  constructor(accepted: Iterable<string> = []) {
    this.accepted = new Set(accepted);
  }

  /** True when `bundle` must not run yet: unverified and not accepted. */
  needsConfirmation(bundle: TrustedBundle | null): boolean {
    return bundle !== null && bundle.trust.status === 'unverified' && !this.accepted.has(bundle.hash);
  }

  /** True when classification may start with `bundle`. */
  mayRun(bundle: TrustedBundle | null): boolean {
    return bundle !== null && !this.needsConfirmation(bundle);
  }

  /** A new consent that also accepts `bundle` (immutable, so it can live in a Svelte $state.raw). */
  accept(bundle: TrustedBundle): UnverifiedConsent {
    return new UnverifiedConsent([...this.accepted, bundle.hash]);
  }
}
