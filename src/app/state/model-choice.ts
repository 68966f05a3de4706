// Which model the user chose (a shipped bundle by its name in models/index.json, or a bundle made in this browser
// by its sha256), remembered in localStorage and restored at start; and the model list the header shows.
import type { LoadedBundle, ShippedModel } from '../../engine/index.ts';
import type { KeyValueStore } from './channel-memory.ts';
import type { LocalBundleInfo } from './local-bundles.ts';
import { speedText, type ModelSpeed } from './model-speed.ts';

export type ModelChoice = { kind: 'shipped'; name: string } | { kind: 'adapted'; hash: string };

/** localStorage key of the chosen model (JSON ModelChoice). */
export const CHOICE_KEY = 'moa-lens.model-choice.v1';
/** Where an earlier version remembered the adapted bundle in use (its sha256); read when CHOICE_KEY is absent. */
const LEGACY_ADAPTED_KEY = 'moa-lens.local-bundle';

type Store = KeyValueStore & Partial<Pick<Storage, 'removeItem'>>;

/** The remembered choice; null when none (or it is malformed): the default. */
export function recallChoice(store: Store | undefined): ModelChoice | null {
  try {
    const text = store?.getItem(CHOICE_KEY);
    if (!text) {
      const legacy = store?.getItem(LEGACY_ADAPTED_KEY);
      return legacy ? { kind: 'adapted', hash: legacy } : null;
    }
    const v = JSON.parse(text) as Partial<{ kind: string; name: unknown; hash: unknown }>;
    if (v.kind === 'shipped' && typeof v.name === 'string' && v.name) return { kind: 'shipped', name: v.name };
    if (v.kind === 'adapted' && typeof v.hash === 'string' && v.hash) return { kind: 'adapted', hash: v.hash };
    return null;
  } catch {
    return null;
  }
}

export function rememberChoice(store: Store | undefined, choice: ModelChoice): void {
  try {
    store?.setItem(CHOICE_KEY, JSON.stringify(choice));
    store?.removeItem?.(LEGACY_ADAPTED_KEY);
  } catch {
    // storage blocked: the choice holds for this visit only
  }
}

/** The shipped model models/index.json names the default (null when the list has none that can be used). */
export function defaultModel(shipped: readonly ShippedModel[]): Extract<ShippedModel, { ok: true }> | null {
  return shipped.find((m): m is Extract<ShippedModel, { ok: true }> => m.ok && m.isDefault) ?? null;
}

/**
 * What to load at start for the remembered choice: it when it is still there (a shipped bundle that can be read,
 * a bundle still stored here), else the default with a sentence saying what was chosen and why it is not used.
 */
export function resolveChoice(
  choice: ModelChoice | null,
  shipped: readonly ShippedModel[],
  local: readonly LocalBundleInfo[],
): { choice: ModelChoice | null; message: string | null } {
  if (!choice) return { choice: null, message: null };
  const fallback = defaultModel(shipped)?.name;
  const instead = fallback ? `using the default model "${fallback}"` : 'using the default model';
  if (choice.kind === 'adapted') {
    if (local.some((b) => b.hash === choice.hash)) return { choice, message: null };
    return { choice: null, message: `The model you chose before (made in this browser, sha256 ${choice.hash.slice(0, 12)}) is no longer stored here; ${instead}.` };
  }
  const found = shipped.find((m) => m.name === choice.name);
  if (found?.ok) return { choice, message: null };
  const why = found ? `cannot be read (${found.problem})` : 'is no longer shipped with this app';
  return { choice: null, message: `The model you chose before, "${choice.name}", ${why}; ${instead}.` };
}

/** One line of the model list, as the header shows it. */
export interface ModelEntry {
  /** Stable key: "shipped:<name>" or "adapted:<sha256>". */
  key: string;
  choice: ModelChoice;
  name: string;
  kind: 'shipped' | 'adapted';
  /** "1.9 MB", "1.8 MB (weights; a version 1 bundle records no file sizes)"; null for a bundle stored here (nothing to download). */
  size: string | null;
  /** "256x320, fields binned 4x4"; null when not known before loading (a bundle made here, until it is loaded). */
  input: string | null;
  /** "out-of-distribution check" / "no out-of-distribution check"; null when not known before loading. */
  ood: string | null;
  /** Trust word and why. */
  trust: { status: string; detail: string };
  speed: string;
  isDefault: boolean;
  /** It is the model loaded now. */
  current: boolean;
  /** Why it cannot be chosen (a shipped bundle whose moa-lens.json cannot be read). */
  problem: string | null;
}

const sizeFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1, minimumFractionDigits: 1 });

/** Bytes as MB (10^6 bytes, as downloads are usually counted). */
export function megabytes(bytes: number): string {
  return `${sizeFormat.format(bytes / 1e6)} MB`;
}

const inputText = (input: { height: number; width: number }, binning: number) => `${input.height}x${input.width}, fields binned ${binning}x${binning}`;
const oodText = (has: boolean) => (has ? 'out-of-distribution check' : 'no out-of-distribution check');

/**
 * Every model the user may choose: the shipped ones (the default first), then those made in this browser, each with
 * what it costs to download, what it takes in, whether it has an OOD check, its trust, and its speed measured here.
 */
export function modelEntries(
  shipped: readonly ShippedModel[],
  local: readonly LocalBundleInfo[],
  current: Pick<LoadedBundle, 'hash' | 'input' | 'preprocessing' | 'metadata'> | null,
  speedOf: (hash: string) => ModelSpeed,
): ModelEntry[] {
  const fromShipped = shipped.map((m): ModelEntry => {
    const base = { key: `shipped:${m.name}`, choice: { kind: 'shipped', name: m.name } as ModelChoice, name: m.name, kind: 'shipped' as const, isDefault: m.isDefault };
    if (!m.ok) return { ...base, size: null, input: null, ood: null, trust: { status: 'unreadable', detail: m.problem }, speed: 'not measured yet', current: false, problem: m.problem };
    return {
      ...base,
      size: m.sizeRecorded ? megabytes(m.downloadBytes) : `${megabytes(m.downloadBytes)} (weights; a version 1 bundle records no file sizes)`,
      input: inputText(m.input, m.binning),
      ood: oodText(m.oodCheck),
      trust: { status: m.trust.status, detail: m.trust.detail },
      speed: speedText(speedOf(m.hash)),
      current: current?.hash === m.hash,
      problem: null,
    };
  });
  const loaded = (hash: string) => (current?.hash === hash ? current : null);
  const fromLocal = local.map(
    (b): ModelEntry => ({
      key: `adapted:${b.hash}`,
      choice: { kind: 'adapted', hash: b.hash },
      name: b.name,
      kind: 'adapted',
      size: null,
      input: loaded(b.hash) && inputText(loaded(b.hash)!.input, loaded(b.hash)!.preprocessing.binning),
      ood: loaded(b.hash) && oodText(loaded(b.hash)!.metadata.ood !== undefined),
      trust: { status: 'made here', detail: `made in this browser on ${b.createdAt.slice(0, 16).replace('T', ' ')} (${b.classes.length} classes), trusted by the sha256 recorded then` },
      speed: speedText(speedOf(b.hash)),
      isDefault: false,
      current: current?.hash === b.hash,
      problem: null,
    }),
  );
  return [...fromShipped, ...fromLocal];
}
