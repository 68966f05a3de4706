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

/** An opaque WebCrypto key. */
interface CryptoKey {
  readonly type: string;
}
type Ed25519 = { name: 'Ed25519' } | 'Ed25519';
declare var crypto: {
  subtle: {
    digest(algorithm: 'SHA-256', data: Uint8Array<ArrayBuffer>): Promise<ArrayBuffer>;
    importKey(format: 'raw' | 'pkcs8', keyData: Uint8Array<ArrayBuffer>, algorithm: Ed25519, extractable: boolean, usages: ('sign' | 'verify')[]): Promise<CryptoKey>;
    exportKey(format: 'jwk', key: CryptoKey): Promise<{ x?: string }>;
    sign(algorithm: Ed25519, key: CryptoKey, data: Uint8Array<ArrayBuffer>): Promise<ArrayBuffer>;
    verify(algorithm: Ed25519, key: CryptoKey, signature: Uint8Array<ArrayBuffer>, data: Uint8Array<ArrayBuffer>): Promise<boolean>;
  };
};

declare function atob(data: string): string;
declare function btoa(data: string): string;
