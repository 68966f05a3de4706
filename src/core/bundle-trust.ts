// Who vouches for a bundle: pinned as shipped (models/index.json), signed with Ed25519 by a key the build trusts (models/trusted-keys.json), or nobody.
import { SIGNATURE_FILE, METADATA_FILE } from './bundle-format.ts';

export const SIGNATURE_FORMAT = 'moa-lens-signature';

/** moa-lens.sig.json: an Ed25519 signature over the exact bytes of moa-lens.json. Keys and signature in base64. */
export interface BundleSignature {
  format: typeof SIGNATURE_FORMAT;
  version: 1;
  algorithm: 'Ed25519';
  /** The signer's public key: the raw 32 bytes. */
  publicKey: string;
  /** 64 bytes. */
  signature: string;
}

/** A public key the build trusts: a name for messages and the raw 32-byte Ed25519 key in base64. */
export interface TrustedKey {
  id: string;
  publicKey: string;
}

/** What a build trusts: moa-lens.json sha256 of each shipped bundle by name, and signing keys. */
export interface TrustRoots {
  shipped: Record<string, string>;
  keys: TrustedKey[];
}

export const NO_TRUST: TrustRoots = { shipped: {}, keys: [] };

export type TrustStatus = 'shipped' | 'signed' | 'unverified';

/** A bundle's standing, with a sentence that says why. */
export interface BundleTrust {
  status: TrustStatus;
  detail: string;
}

/** A private Ed25519 key ready to sign, with its public key (base64). */
export interface SigningKey {
  key: CryptoKey;
  publicKey: string;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const s = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

function decodeKey(text: unknown, bytes: number): Uint8Array<ArrayBuffer> | undefined {
  if (typeof text !== 'string') return undefined;
  try {
    const raw = fromBase64(text);
    return raw.length === bytes ? raw : undefined;
  } catch {
    return undefined;
  }
}

/** Checks the shapes of models/index.json (its "shipped" pins) and models/trusted-keys.json; throws on a bad entry. */
export function parseTrustRoots(index: unknown, trustedKeys: unknown): TrustRoots {
  const shipped = (index as { shipped?: unknown })?.shipped ?? {};
  if (typeof shipped !== 'object' || shipped === null || Array.isArray(shipped)) throw new Error('models/index.json: "shipped" must map bundle names to the sha256 of their moa-lens.json.');
  for (const [name, hash] of Object.entries(shipped)) if (typeof hash !== 'string' || !SHA256_HEX.test(hash)) throw new Error(`models/index.json: the pin of "${name}" is not a sha256 (64 hex digits).`);
  const keys = (trustedKeys as { keys?: unknown })?.keys ?? [];
  if (!Array.isArray(keys)) throw new Error('models/trusted-keys.json: "keys" must be a list.');
  const parsed = (keys as Partial<TrustedKey>[]).map((k) => {
    const raw = decodeKey(k?.publicKey, 32);
    if (typeof k?.id !== 'string' || !raw) throw new Error(`models/trusted-keys.json: key ${JSON.stringify(k?.id)} needs an id and a 32-byte Ed25519 publicKey in base64.`);
    return { id: k.id, publicKey: toBase64(raw) };
  });
  return { shipped: shipped as Record<string, string>, keys: parsed };
}

const PEM = /-----BEGIN ([A-Z ]+)-----([\s\S]*?)-----END \1-----/;

/** Reads a PKCS #8 PEM Ed25519 private key (npm run keygen, or `openssl genpkey -algorithm ed25519`). */
export async function signingKeyFromPem(pem: string): Promise<SigningKey> {
  const m = PEM.exec(pem);
  if (!m) throw new Error('not a PEM file (expected -----BEGIN PRIVATE KEY-----).');
  if (m[1] !== 'PRIVATE KEY') throw new Error(`it holds a "${m[1]}"; expected an unencrypted PKCS #8 "PRIVATE KEY" (openssl pkey -in <key> -out <plain key>).`);
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey('pkcs8', fromBase64(m[2].replace(/\s+/g, '')), { name: 'Ed25519' }, true, ['sign']);
  } catch (e) {
    throw new Error(`not an Ed25519 private key (${(e as Error).message}).`);
  }
  const { x } = await crypto.subtle.exportKey('jwk', key);
  if (!x) throw new Error('the key has no public part.');
  return { key, publicKey: toBase64(fromBase64(x)) };
}

/** The signature file for the bytes of a bundle's moa-lens.json. */
export async function signMetadata(metadataBytes: Uint8Array, signer: SigningKey): Promise<Uint8Array> {
  const signature = new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, signer.key, metadataBytes.slice()));
  const file: BundleSignature = { format: SIGNATURE_FORMAT, version: 1, algorithm: 'Ed25519', publicKey: signer.publicKey, signature: toBase64(signature) };
  return new TextEncoder().encode(JSON.stringify(file, null, 1) + '\n');
}

/** Ed25519 verification through WebCrypto (Node 20, Chromium 137+, Firefox 129+, Safari 17+). */
export async function verifyEd25519(publicKey: Uint8Array<ArrayBuffer>, signature: Uint8Array<ArrayBuffer>, message: Uint8Array): Promise<boolean> {
  const key = await crypto.subtle.importKey('raw', publicKey, { name: 'Ed25519' }, false, ['verify']);
  return crypto.subtle.verify({ name: 'Ed25519' }, key, signature, message.slice());
}

/** A short fingerprint of a public key for messages: the first 16 hex digits of its sha256. */
export async function keyFingerprint(publicKey: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', publicKey));
  return Array.from(digest.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * A bundle's trust, from the sha256 and bytes of its moa-lens.json: shipped when the build pins that hash,
 * signed when moa-lens.sig.json verifies with a key the build trusts, else unverified with the reason.
 * `readSignature` gives the signature file's bytes, or undefined when there is none.
 */
export async function bundleTrust(hash: string, metadataBytes: Uint8Array, readSignature: () => Promise<Uint8Array | undefined>, roots: TrustRoots): Promise<BundleTrust> {
  const pinned = Object.entries(roots.shipped).find(([, pin]) => pin === hash);
  if (pinned) return { status: 'shipped', detail: `shipped with this build as "${pinned[0]}" (its ${METADATA_FILE} is pinned in models/index.json)` };
  const bytes = await readSignature();
  if (!bytes) return { status: 'unverified', detail: `not shipped with this build and not signed (no ${SIGNATURE_FILE})` };
  let sig: Partial<BundleSignature>;
  try {
    sig = JSON.parse(new TextDecoder().decode(bytes)) as Partial<BundleSignature>;
  } catch {
    sig = {};
  }
  const publicKey = decodeKey(sig.publicKey, 32);
  const signature = decodeKey(sig.signature, 64);
  if (sig.format !== SIGNATURE_FORMAT || sig.algorithm !== 'Ed25519' || !publicKey || !signature)
    return { status: 'unverified', detail: `its ${SIGNATURE_FILE} is not an Ed25519 signature file this app reads` };
  const fingerprint = await keyFingerprint(publicKey);
  const trusted = roots.keys.find((k) => k.publicKey === toBase64(publicKey));
  if (!trusted) return { status: 'unverified', detail: `signed by key ${fingerprint}, which this build does not trust (models/trusted-keys.json)` };
  if (!(await verifyEd25519(publicKey, signature, metadataBytes)))
    return { status: 'unverified', detail: `its signature by "${trusted.id}" does not match ${METADATA_FILE}: the bundle was changed after it was signed` };
  return { status: 'signed', detail: `signed by "${trusted.id}" (key ${fingerprint}), a key this build trusts` };
}
