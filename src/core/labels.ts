// The MoA label set: the 12 BBBC021 mechanism classes plus DMSO, in one canonical order.

/** Canonical class order (alphabetical, DMSO last). Spellings are exactly those of BBBC021_v1_moa.csv. */
export const MOA_CLASSES = [
  'Actin disruptors',
  'Aurora kinase inhibitors',
  'Cholesterol-lowering',
  'DNA damage',
  'DNA replication',
  'Eg5 inhibitors',
  'Epithelial',
  'Kinase inhibitors',
  'Microtubule destabilizers',
  'Microtubule stabilizers',
  'Protein degradation',
  'Protein synthesis',
  'DMSO',
] as const;

export type MoaClass = (typeof MOA_CLASSES)[number];

export const DMSO: MoaClass = 'DMSO';

/** Index of a class in MOA_CLASSES; throws with the known spellings on an unknown name. */
export function classIndex(name: string): number {
  const i = (MOA_CLASSES as readonly string[]).indexOf(name);
  if (i < 0) throw new Error(`Unknown MoA class "${name}". Known classes: ${MOA_CLASSES.join(', ')}`);
  return i;
}

export function isMoaClass(name: string): name is MoaClass {
  return (MOA_CLASSES as readonly string[]).includes(name);
}

/** The three channels M-CNN reads, in BBBC021 order. */
export const CHANNELS = ['DNA', 'Tubulin', 'Actin'] as const;
export type ChannelName = (typeof CHANNELS)[number];
