// Phenotype simulator of BBBC021 (MCF-7, 3 channels): renderer, MoA phenotypes, TIFF writer, dataset writer.

export { renderField, FULL_HEIGHT, FULL_WIDTH, type FieldRenderOptions, type RenderedField } from './render-field.ts';
export { DMSO_PHENOTYPE, CLASS_EFFECTS, compoundSignature, doseEffect, treatmentPhenotype, type Phenotype, type CompoundSignature } from './phenotypes.ts';
export { encodeTiff16, encodeTiffPages, encodeTiffPlanar, type TiffPlane, type TiffWriteOptions, type TiffCompression } from './tiff-writer.ts';
export {
  writeSimulatedDataset, readMetadataTables, selectImageRows, compoundSignatures, renderTableRow, encodeMultiChannelTiff,
  type SimulateDatasetOptions, type SimulatedDatasetSummary, type RowSelection, type MetadataTables,
} from './dataset-writer.ts';
export { renderClassExamples, writeMultiChannelExamples, type ClassExample } from './class-examples.ts';
export { Rng, hashString, deriveSeed } from './prng.ts';
