// What a bundle's provenance says about the data its model learnt from.

/** The file the simulator writes at the root of a simulated dataset; the trainer records it in the bundle's provenance. */
export const SIMULATED_DATA_MARKER = 'moa-lens-simulated.json';

/**
 * Whether the model was trained on simulated fields: the trainer's `simulated: true` (a data root with the simulator's
 * marker), or a `simulatedData` record (models/mcnn-sim-v1).
 */
export function trainedOnSimulatedData(provenance: Record<string, unknown>): boolean {
  return provenance.simulated === true || (typeof provenance.simulatedData === 'object' && provenance.simulatedData !== null);
}
