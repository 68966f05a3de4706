// Typed errors of the input layer: every failure names the file and says what went wrong in plain words.

/** Why a TIFF could not be decoded. */
export type TiffErrorCode =
  | 'empty-file' // zero bytes
  | 'not-tiff' // no TIFF header (another format, or not an image)
  | 'truncated' // the file ends before the data it announces
  | 'corrupt' // structure or compressed data is damaged
  | 'unsupported' // a valid TIFF of a kind this app cannot read
  | 'too-large'; // the image would need more memory than the budget allows

/** A TIFF that cannot be turned into pixel planes. `message` is a sentence a biologist understands. */
export class TiffDecodeError extends Error {
  readonly fileName: string;
  readonly code: TiffErrorCode;
  /** Technical detail for logs (the underlying library message, offsets), not for the user. */
  readonly detail?: string;

  constructor(fileName: string, code: TiffErrorCode, message: string, detail?: string) {
    super(message);
    this.name = 'TiffDecodeError';
    this.fileName = fileName;
    this.code = code;
    this.detail = detail;
  }
}

/** Why a metadata table (CSV) could not be used. */
export type MetadataErrorCode = 'empty-table' | 'missing-column' | 'bad-row';

/** A metadata table that cannot be read; names the file, the row when known, and what is missing. */
export class MetadataError extends Error {
  readonly fileName: string;
  readonly code: MetadataErrorCode;
  readonly row?: number;

  constructor(fileName: string, code: MetadataErrorCode, message: string, row?: number) {
    super(message);
    this.name = 'MetadataError';
    this.fileName = fileName;
    this.code = code;
    this.row = row;
  }
}

/** Where a field failed on its way to a prediction. */
export type FieldStage = 'read' | 'decode' | 'preprocess' | 'infer';

/** An error in one field, tagged with the stage it happened in; `message` is a sentence for the user. */
export class FieldError extends Error {
  readonly stage: FieldStage;

  constructor(stage: FieldStage, message: string) {
    super(message);
    this.name = 'FieldError';
    this.stage = stage;
  }
}
