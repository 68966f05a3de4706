// The globals the core uses that every runtime it runs in provides (browsers, Web Workers, Node.js 20+),
// declared with only the members the core calls. The core compiles against the ES library alone, so a
// DOM, Web Worker or Node API used here is a type error (test/layers.test.ts proves it).
// Only the core's own project sees this file: the other projects get these globals from their libraries.

interface TextEncoder {
  encode(input?: string): Uint8Array<ArrayBuffer>;
}
declare var TextEncoder: new () => TextEncoder;

interface TextDecoder {
  decode(input?: Uint8Array): string;
}
declare var TextDecoder: new (label?: string, options?: { fatal?: boolean }) => TextDecoder;

declare var performance: { now(): number };

declare var crypto: { subtle: { digest(algorithm: 'SHA-256', data: Uint8Array<ArrayBuffer>): Promise<ArrayBuffer> } };
