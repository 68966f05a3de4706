// TIFF LZW decoder with hard bounds: output never exceeds the block's expected size and every loop is
// limited by the input length. geotiff's LZW decoder can loop forever on damaged data.

import { BaseDecoder } from 'geotiff';

const CLEAR = 256;
const END_OF_INFORMATION = 257;
const MAX_CODES = 4096;

/** Decodes TIFF LZW (MSB-first codes of 9-12 bits, early change). Stops at `maxOutput` bytes. */
export function decodeLzw(input: Uint8Array, maxOutput: number): Uint8Array {
  const out = new Uint8Array(maxOutput);
  const prefix = new Int16Array(MAX_CODES);
  const suffix = new Uint8Array(MAX_CODES);
  const length = new Uint16Array(MAX_CODES);
  const first = new Uint8Array(MAX_CODES);
  for (let i = 0; i < 256; i++) {
    prefix[i] = -1;
    suffix[i] = i;
    length[i] = 1;
    first[i] = i;
  }
  const totalBits = input.length * 8;
  let bitPos = 0;
  let codeLength = 9;
  let next = 258;
  let previous = -1;
  let outPos = 0;
  const write = (code: number) => {
    const len = length[code];
    let c = code;
    for (let i = len - 1; i >= 0; i--) {
      if (outPos + i < maxOutput) out[outPos + i] = suffix[c];
      c = prefix[c];
    }
    outPos += len;
  };
  while (bitPos + codeLength <= totalBits && outPos < maxOutput) {
    let code = 0;
    for (let i = 0; i < codeLength; i++, bitPos++) code = (code << 1) | ((input[bitPos >> 3] >> (7 - (bitPos & 7))) & 1);
    if (code === END_OF_INFORMATION) break;
    if (code === CLEAR) {
      codeLength = 9;
      next = 258;
      previous = -1;
      continue;
    }
    if (previous === -1) {
      if (code > 255) throw new RangeError(`LZW: code ${code} after a clear code`);
      write(code);
      previous = code;
      continue;
    }
    if (code > next || next >= MAX_CODES) throw new RangeError(`LZW: code ${code} not yet defined (next ${next})`);
    const known = code < next;
    const firstByte = known ? first[code] : first[previous];
    prefix[next] = previous;
    suffix[next] = firstByte;
    length[next] = Math.min(length[previous] + 1, 65535);
    first[next] = first[previous];
    next++;
    write(code);
    previous = code;
    if (next + 1 >= 1 << codeLength && codeLength < 12) codeLength++;
  }
  return outPos >= maxOutput ? out : out.subarray(0, outPos);
}

/** geotiff decoder (predictor handled by BaseDecoder) that uses the bounded LZW above. */
export class BoundedLzwDecoder extends BaseDecoder {
  constructor(
    parameters: ConstructorParameters<typeof BaseDecoder>[0],
    private readonly maxOutput: number,
  ) {
    super(parameters);
  }
  override decodeBlock(buffer: ArrayBufferLike): ArrayBufferLike {
    return decodeLzw(new Uint8Array(buffer), this.maxOutput).slice().buffer;
  }
}
