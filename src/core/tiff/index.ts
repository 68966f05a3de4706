// Public surface of the TIFF decoder.

export { decodeTiff, DEFAULT_MAX_DECODE_BYTES } from './decode.ts';
export { SUPPORTED_COMPRESSIONS, uniformValue } from './checks.ts';
export { checkBeforeReading, formatFileSize, type ReadSlice } from './probe.ts';
export type { ChannelPlane, DecodedImage, DecodeOptions, LayoutSource, PixelSize, PlaneData, SampleFormat, StackPlane } from './types.ts';
export { TiffDecodeError, type TiffErrorCode } from '../errors.ts';
