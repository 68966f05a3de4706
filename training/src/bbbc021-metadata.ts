// Where the trainer finds the real BBBC021 metadata tables (BBBC021_v1_image.csv, BBBC021_v1_moa.csv):
// vendored with their licence in training/data/bbbc021/, so a clone needs nothing beside it.
import { fileURLToPath } from 'node:url';

/** Folder of the real BBBC021 image + MoA tables; the simulator's and demo plate's default `--metadata`. */
export const BBBC021_METADATA_DIR = fileURLToPath(new URL('../data/bbbc021', import.meta.url));
