// Phenotype parameters of a field, the MoA -> morphology mapping, dose-response and per-compound signatures.
//
// How each MoA class changes MCF-7 morphology in the simulator (effects at full strength; a treatment gets
// a fraction of it from its dose-response curve, see `treatmentPhenotype`):
//
// | class                     | biology modelled                                   | what changes in the picture |
// |---------------------------|----------------------------------------------------|-----------------------------|
// | DMSO                      | vehicle control                                    | baseline: spread cells, radial microtubules, stress fibres, ~4% mitotic |
// | Actin disruptors          | cytochalasin/latrunculin cap or sequester actin    | stress fibres lost, bright actin aggregates (puncta), arborised irregular cell outlines, some binucleate cells |
// | Aurora kinase inhibitors  | failed cytokinesis, endoreduplication              | large cells with 2-4 nuclei or one giant lobed polyploid nucleus, fewer mitoses |
// | Cholesterol-lowering      | statins: prenylation loss, cytoplasm retraction    | subtle: smaller, rounder, less spread cells, weaker stress fibres, mild toxicity |
// | DNA damage                | G2 arrest, senescence-like flattening              | enlarged brighter (4N) nuclei, large flat cells, micronuclei, fewer mitoses |
// | DNA replication           | S-phase arrest                                     | larger nuclei with granular replication-foci texture, fewer mitoses, toxicity |
// | Eg5 inhibitors            | kinesin-5 loss: monopolar spindles, mitotic arrest | many round mitotic cells with a rosette of chromosomes around one central aster |
// | Epithelial                | Src/kinase inhibition restores cell-cell junctions | tight clusters of smaller polygonal cells, strong cortical actin, few stress fibres |
// | Kinase inhibitors         | p38/CDK/PKC inhibition, motility changes           | elongated cells with actin ruffles (lamellipodia) at one edge, slightly smaller nuclei |
// | Microtubule destabilizers | depolymerised tubulin, prometaphase arrest         | diffuse tubulin without filaments, round cells, mitotic cells with scattered chromosomes and no spindle |
// | Microtubule stabilizers   | taxane bundling, multipolar mitoses                | thick bright tubulin bundles incl. cortical rings, multipolar mitotic cells, micronucleation |
// | Protein degradation       | proteasome inhibition: aggresomes, vacuoles        | bright perinuclear tubulin/aggresome spot, cytoplasmic vacuoles, slightly smaller cells |
// | Protein synthesis         | translation block: cells shrink and dim            | small cells with dim cytoplasm (tubulin and actin), smaller nuclei, lower density |
//
// Every compound gets its own signature inside its class (seeded by its name): overall strength, potency
// (EC50), per-parameter emphasis of the class effect, two or three side effects taken from other classes'
// axes, and toxicity that lowers cell density and raises apoptosis. Effects follow a Hill curve in
// concentration, so the lowest doses of a compound can look like DMSO, as in the real screen.

import { DMSO, MOA_CLASSES, type MoaClass } from '../../../src/core/labels.ts';
import { deriveSeed, Rng } from '../util/prng.ts';

/** Field-level mean morphology; individual cells are drawn around these means. Lengths are full-resolution pixels. */
export interface Phenotype {
  /** Cells per 1024x1280 field. */
  density: number;
  /** 0 = uniform placement, 1 = tight epithelial clusters. */
  clustering: number;
  cellRadius: number;
  nucleusRadius: number;
  /** Aspect ratio minus one of the cell outline. */
  elongation: number;
  /** Amplitude of the outline's low-order harmonics (arborised, ragged edges). */
  outlineIrregularity: number;
  /** Fraction of cells in mitosis. */
  mitoticFraction: number;
  /** Among mitotic cells: monopolar spindles (Eg5), spindleless (destabilisers), multipolar (stabilisers). */
  monopolarShare: number;
  spindlelessShare: number;
  multipolarShare: number;
  /** Fraction of interphase cells in S and G2 (brighter, larger nuclei). */
  sPhaseFraction: number;
  g2Fraction: number;
  /** Fraction of cells with two or more nuclei, and the polyploid size factor of their nuclei. */
  multinucleateFraction: number;
  polyploidy: number;
  /** Nuclear texture contrast and replication-foci brightness. */
  nuclearTexture: number;
  replicationFoci: number;
  /** Expected micronuclei per cell; fraction of apoptotic (condensed, fragmented) cells. */
  micronuclei: number;
  apoptoticFraction: number;
  /** Tubulin: filament contrast (0 diffuse), bundling (thick bright bundles), diffuse level, perinuclear aggregate. */
  tubulinFilaments: number;
  tubulinBundling: number;
  tubulinDiffuse: number;
  aggresome: number;
  /** Actin: stress fibres, cortical ring, aggregates, ruffles. */
  stressFibres: number;
  corticalActin: number;
  actinPuncta: number;
  actinRuffles: number;
  /** Dark cytoplasmic vacuoles per cell. */
  vacuoles: number;
  /** Cytoplasmic protein content (scales tubulin and actin). */
  cytoplasmContent: number;
}

export type PhenotypeKey = keyof Phenotype;

/** DMSO: the vehicle-control morphology. */
export const DMSO_PHENOTYPE: Readonly<Phenotype> = {
  density: 120,
  clustering: 0.25,
  cellRadius: 34,
  nucleusRadius: 12.5,
  elongation: 0.35,
  outlineIrregularity: 0.16,
  mitoticFraction: 0.04,
  monopolarShare: 0.02,
  spindlelessShare: 0.03,
  multipolarShare: 0.02,
  sPhaseFraction: 0.3,
  g2Fraction: 0.15,
  multinucleateFraction: 0.03,
  polyploidy: 1,
  nuclearTexture: 0.18,
  replicationFoci: 0.1,
  micronuclei: 0.03,
  apoptoticFraction: 0.02,
  tubulinFilaments: 1,
  tubulinBundling: 0,
  tubulinDiffuse: 1,
  aggresome: 0,
  stressFibres: 1,
  corticalActin: 1,
  actinPuncta: 0,
  actinRuffles: 0.15,
  vacuoles: 0,
  cytoplasmContent: 1,
};

/** Lower and upper bounds every parameter is clamped to after effects are combined. */
export const PHENOTYPE_BOUNDS: Record<PhenotypeKey, [number, number]> = {
  density: [15, 260],
  clustering: [0, 1],
  cellRadius: [16, 70],
  nucleusRadius: [6, 24],
  elongation: [0, 1.4],
  outlineIrregularity: [0.03, 0.45],
  mitoticFraction: [0, 0.85],
  monopolarShare: [0, 1],
  spindlelessShare: [0, 1],
  multipolarShare: [0, 1],
  sPhaseFraction: [0, 0.95],
  g2Fraction: [0, 0.95],
  multinucleateFraction: [0, 0.9],
  polyploidy: [1, 2.6],
  nuclearTexture: [0.05, 0.8],
  replicationFoci: [0, 1.5],
  micronuclei: [0, 2],
  apoptoticFraction: [0, 0.6],
  tubulinFilaments: [0, 2.5],
  tubulinBundling: [0, 2],
  tubulinDiffuse: [0.3, 2.5],
  aggresome: [0, 2],
  stressFibres: [0, 2],
  corticalActin: [0.2, 3],
  actinPuncta: [0, 2],
  actinRuffles: [0, 2],
  vacuoles: [0, 12],
  cytoplasmContent: [0.3, 1.6],
};

/** Full-strength target values of each class (only the parameters the class moves). */
export const CLASS_EFFECTS: Record<MoaClass, Partial<Phenotype>> = {
  DMSO: {},
  'Actin disruptors': {
    stressFibres: 0.05, corticalActin: 0.55, actinPuncta: 1.3, outlineIrregularity: 0.36,
    elongation: 0.55, multinucleateFraction: 0.15, cellRadius: 31,
  },
  'Aurora kinase inhibitors': {
    multinucleateFraction: 0.6, polyploidy: 1.9, cellRadius: 50, mitoticFraction: 0.015,
    density: 80, nucleusRadius: 14,
  },
  'Cholesterol-lowering': {
    cellRadius: 27, elongation: 0.15, stressFibres: 0.55, outlineIrregularity: 0.24, density: 95,
    tubulinDiffuse: 1.25, cytoplasmContent: 0.85,
  },
  'DNA damage': {
    nucleusRadius: 16, g2Fraction: 0.6, sPhaseFraction: 0.2, cellRadius: 45, micronuclei: 0.5,
    mitoticFraction: 0.01, density: 80, nuclearTexture: 0.28,
  },
  'DNA replication': {
    sPhaseFraction: 0.8, g2Fraction: 0.08, replicationFoci: 0.9, nucleusRadius: 14, nuclearTexture: 0.4,
    mitoticFraction: 0.01, density: 85, cellRadius: 38,
  },
  'Eg5 inhibitors': {
    mitoticFraction: 0.5, monopolarShare: 0.95, spindlelessShare: 0.02, multipolarShare: 0.01, density: 105,
  },
  Epithelial: {
    clustering: 0.95, cellRadius: 27, corticalActin: 2.1, stressFibres: 0.3, elongation: 0.12,
    outlineIrregularity: 0.09, density: 150,
  },
  'Kinase inhibitors': {
    elongation: 0.85, actinRuffles: 1.2, nucleusRadius: 10, cellRadius: 37, stressFibres: 1.3,
  },
  'Microtubule destabilizers': {
    tubulinFilaments: 0.05, tubulinDiffuse: 1.7, elongation: 0.08, cellRadius: 27, mitoticFraction: 0.35,
    spindlelessShare: 0.95, monopolarShare: 0.02, micronuclei: 0.35, outlineIrregularity: 0.1,
  },
  'Microtubule stabilizers': {
    tubulinBundling: 1.4, tubulinFilaments: 1.5, tubulinDiffuse: 0.7, mitoticFraction: 0.3, multipolarShare: 0.8,
    spindlelessShare: 0.05, micronuclei: 0.9, apoptoticFraction: 0.08, density: 100,
  },
  'Protein degradation': {
    aggresome: 1.4, vacuoles: 5, cellRadius: 30, nucleusRadius: 10.5, apoptoticFraction: 0.1, density: 95,
  },
  'Protein synthesis': {
    cellRadius: 23, cytoplasmContent: 0.55, nucleusRadius: 9.5, density: 75, mitoticFraction: 0.015,
    stressFibres: 0.6, tubulinFilaments: 0.7,
  },
};

/** Parameters a side effect can touch, with the size of a full-strength push (fraction of the baseline-bounds span). */
const SIDE_EFFECT_KEYS: PhenotypeKey[] = [
  'cellRadius', 'nucleusRadius', 'elongation', 'outlineIrregularity', 'stressFibres', 'corticalActin',
  'tubulinDiffuse', 'tubulinFilaments', 'nuclearTexture', 'micronuclei', 'clustering', 'actinPuncta',
  'vacuoles', 'cytoplasmContent', 'mitoticFraction', 'multinucleateFraction', 'g2Fraction', 'actinRuffles',
];

/** A compound's own signature within its class. */
export interface CompoundSignature {
  compound: string;
  moa: MoaClass | null;
  /** Maximal effect (0..1.2) reached at saturating dose. */
  maxEffect: number;
  /** Concentration (µM) at half-maximal effect. */
  ec50: number;
  hill: number;
  /** Per-parameter emphasis of the class effect (multiplies the class delta). */
  emphasis: Partial<Record<PhenotypeKey, number>>;
  /** Side effects: signed pushes as a fraction of each parameter's bound span at full effect. */
  sideEffects: Partial<Record<PhenotypeKey, number>>;
  /** Fraction of cells lost at full effect. */
  toxicity: number;
  /** Another class whose effect the compound also has, and the share of it (0 without). */
  offTarget: MoaClass | null;
  offTargetShare: number;
}

/** Probability that a compound expresses each feature of its class, and the largest share of an off-target class. */
const FEATURE_EXPRESSED = 0.8;
const OFF_TARGET_MAX_SHARE = 0.35;

/**
 * Builds a compound's signature from its name. `concentrations` are the doses the screen used for it;
 * the EC50 is placed inside that range so the dose series spans weak to strong effects. `diversity` scales how
 * much a compound departs from its class template (1, the default: its own mixture of the class's features, an
 * off-target share and side effects; 0: every compound of a class shows the class effect alone, as simulator
 * version 1's near copies did); the random draws are the same at every value, so 1 renders what it always did.
 */
export function compoundSignature(compound: string, moa: MoaClass | null, concentrations: number[], seed = 0, diversity = 1): CompoundSignature {
  if (!(diversity >= 0 && diversity <= 1)) throw new Error(`The compound diversity must lie in [0, 1], got ${diversity}.`);
  const rng = new Rng(deriveSeed(seed, 'compound', compound));
  const positive = concentrations.filter((c) => c > 0).sort((a, b) => a - b);
  const lo = positive[0] ?? 1;
  const hi = positive[positive.length - 1] ?? 1;
  // EC50 log-uniform between the lowest dose and the geometric middle-to-top of the series.
  const logEc50 = Math.log(lo) + rng.uniform(0.1, 0.6) * (Math.log(hi) - Math.log(lo) + Math.log(3));
  // The compound's own mixture of its class's features: each is expressed (weight 0.4-1.3) with probability
  // FEATURE_EXPRESSED, else barely (0-0.15); at least two are expressed.
  const emphasis: Partial<Record<PhenotypeKey, number>> = {};
  if (moa) {
    const keys = Object.keys(CLASS_EFFECTS[moa]) as PhenotypeKey[];
    const expressed = keys.map(() => rng.chance(FEATURE_EXPRESSED));
    for (let k = 0; expressed.filter(Boolean).length < Math.min(2, keys.length); k++) expressed[rng.int(keys.length)] = true;
    keys.forEach((key, k) => (emphasis[key] = expressed[k] ? rng.uniform(0.4, 1.3) : rng.uniform(0, 0.15)));
  }
  const sideEffects: Partial<Record<PhenotypeKey, number>> = {};
  const sideCount = moa === 'DMSO' ? 0 : 2 + rng.int(4);
  for (let i = 0; i < sideCount; i++) {
    const key = SIDE_EFFECT_KEYS[rng.int(SIDE_EFFECT_KEYS.length)];
    sideEffects[key] = (sideEffects[key] ?? 0) + rng.gaussian(0, moa ? 0.12 : 0.08);
  }
  // Off-target activity: a share of another class's effect (a kinase inhibitor that also hits tubulin, ...).
  const others = MOA_CLASSES.filter((c) => c !== DMSO && c !== moa);
  const offTarget = moa && moa !== DMSO ? others[rng.int(others.length)] : null;
  const offTargetShare = offTarget ? rng.uniform(0.1, OFF_TARGET_MAX_SHARE) : 0;
  if (diversity !== 1) {
    for (const key of Object.keys(emphasis) as PhenotypeKey[]) emphasis[key] = 1 + diversity * ((emphasis[key] as number) - 1);
    for (const key of Object.keys(sideEffects) as PhenotypeKey[]) sideEffects[key] = diversity * (sideEffects[key] as number);
  }
  return {
    compound,
    moa,
    offTarget,
    offTargetShare: diversity * offTargetShare,
    maxEffect: moa === 'DMSO' ? 0 : moa ? rng.uniform(0.7, 1.15) : rng.uniform(0.1, 0.5),
    ec50: Math.exp(logEc50),
    hill: rng.uniform(0.9, 2.2),
    emphasis,
    sideEffects,
    toxicity: moa === 'DMSO' ? 0 : rng.uniform(0, 0.5),
  };
}

/** Fraction (0..maxEffect) of the class effect a dose produces: a Hill curve. */
export function doseEffect(signature: CompoundSignature, concentration: number): number {
  if (!(concentration > 0) || signature.maxEffect === 0) return 0;
  return signature.maxEffect / (1 + Math.pow(signature.ec50 / concentration, signature.hill));
}

/** Mean field phenotype of a compound at a concentration. */
export function treatmentPhenotype(signature: CompoundSignature, concentration: number): Phenotype {
  const effect = doseEffect(signature, concentration);
  const out: Phenotype = { ...DMSO_PHENOTYPE };
  if (signature.moa) {
    const target = CLASS_EFFECTS[signature.moa];
    for (const key of Object.keys(target) as PhenotypeKey[]) {
      const delta = (target[key] as number) - DMSO_PHENOTYPE[key];
      out[key] += delta * effect * (signature.emphasis[key] ?? 1);
    }
  }
  if (signature.offTarget) {
    const target = CLASS_EFFECTS[signature.offTarget];
    for (const key of Object.keys(target) as PhenotypeKey[]) {
      out[key] += ((target[key] as number) - DMSO_PHENOTYPE[key]) * effect * signature.offTargetShare;
    }
  }
  for (const key of Object.keys(signature.sideEffects) as PhenotypeKey[]) {
    const [lo, hi] = PHENOTYPE_BOUNDS[key];
    out[key] += (signature.sideEffects[key] as number) * (hi - lo) * effect;
  }
  out.density *= 1 - signature.toxicity * effect;
  out.apoptoticFraction += 0.25 * signature.toxicity * effect;
  return clampPhenotype(out);
}

/** Clamps every parameter into its plausible range. */
export function clampPhenotype(p: Phenotype): Phenotype {
  const out = { ...p };
  for (const key of Object.keys(PHENOTYPE_BOUNDS) as PhenotypeKey[]) {
    const [lo, hi] = PHENOTYPE_BOUNDS[key];
    out[key] = Math.min(hi, Math.max(lo, out[key]));
  }
  return out;
}
