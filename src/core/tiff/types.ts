// Public types of the TIFF decoder: decoded channel planes and the options that bound a decode.

export type SampleFormat = 'uint' | 'int' | 'float';

export type PlaneData =
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Float32Array;

/** One 2-D plane of one channel, row-major, width * height values. */
export interface ChannelPlane {
  /** Channel name when the file states it (OME-XML Channel Name, PageName, RGB colour names). */
  name?: string;
  width: number;
  height: number;
  /** Bits per sample as stored in the file (12 for 12-bit data held in a Uint16Array; 16 for half floats held as Float32Array). */
  bitsPerSample: number;
  sampleFormat: SampleFormat;
  data: PlaneData;
}

/** A plane of a multi-page stack with its position: channel c, focal plane z, time point t. */
export interface StackPlane extends ChannelPlane {
  c: number;
  z: number;
  t: number;
  /** The TIFF page (IFD index) it came from. */
  page: number;
}

/** Where the channel / z / t layout came from. */
export type LayoutSource = 'ome-xml' | 'imagej' | 'samples' | 'pages-as-channels';

/** The physical size of a pixel, in micrometres, as the file states it, and where it says so. */
export interface PixelSize {
  x: number;
  y: number;
  /** OME-XML PhysicalSizeX/Y; an ImageJ description's `unit=` with the resolution tags; TIFF XResolution/YResolution in inches or centimetres. */
  source: 'ome-xml' | 'tiff-resolution' | 'imagej';
}

export interface DecodedImage {
  fileName: string;
  width: number;
  height: number;
  /** The channels at the selected z and t (default the first); one plane per channel. */
  planes: ChannelPlane[];
  /** Number of TIFF pages (IFDs) in the file. */
  pageCount: number;
  sizeC: number;
  sizeZ: number;
  sizeT: number;
  /** Which focal plane and time point `planes` holds. */
  z: number;
  t: number;
  layoutSource: LayoutSource;
  /** Every decoded plane with its c/z/t, only when `allPlanes` was asked for. */
  stack?: StackPlane[];
  /** Pages left out (thumbnails, reduced-resolution copies, pages of another size), with the reason. */
  skippedPages: { page: number; reason: string }[];
  /** Things worth telling the user that did not stop the decode (palette expanded, etc.). */
  notes: string[];
  /** Micrometres per pixel when the file states it (OME PhysicalSizeX/Y, ImageJ unit + resolution, TIFF resolution tags); absent otherwise. */
  pixelSize?: PixelSize;
  /** Images the file describes (OME Image elements: positions, series; 1 otherwise), and which one was read (0-based). */
  imageCount: number;
  image: number;
  imageName?: string;
}

export interface DecodeOptions {
  /** Most bytes of decoded pixels one decode may allocate (default 1 GiB). Checked from the header, before any pixel is read. */
  maxBytes?: number;
  /** Focal plane to return in `planes` (default 0). */
  z?: number;
  /** Time point to return in `planes` (default 0). */
  t?: number;
  /** Also decode every plane of every z and t into `stack`. */
  allPlanes?: boolean;
  /** Which OME image (position, series) to read, 0-based; needed when a file holds several (it is refused otherwise). */
  image?: number;
}
