// The demo plate's index (public/demo/index.json): written by the trainer's demo-plate command, read by the app.

export const DEMO_INDEX_FILE = 'index.json';

export interface DemoIndex {
  /** sha256 of the recipe (plate.json) the files were rendered from. */
  specSha256: string;
  name: string;
  description: string;
  /** The bundle whose held-out compounds the wells are. */
  model: string;
  fields: number;
  bytes: number;
  /** Every file of the plate, relative to the demo folder: the two CSVs, then the TIFFs. */
  files: string[];
}
