// `npm run keygen`: an Ed25519 key pair for signing bundles (npm run export -- --sign-key), and the entry that makes the app trust it.
import { writeFile } from 'node:fs/promises';
import { webcrypto } from 'node:crypto';
import { keyFingerprint, toBase64 } from '../../src/core/bundle-trust.ts';
import { EXIT, exitCodesHelp, runCli } from './util/cli.ts';

const USAGE = `npm run keygen -- --out <private key file> [--id <name>]
Writes a new Ed25519 private key (PKCS #8 PEM, readable by you alone; refuses to overwrite a file) and prints the
entry to add to models/trusted-keys.json ("keys") so that the app and npm run evaluate trust bundles it signs.
Keep the private key out of the repository. The same key from openssl: openssl genpkey -algorithm ed25519 -out <file>;
its public key in base64: openssl pkey -in <file> -pubout -outform DER | tail -c 32 | base64`;

await runCli('keygen', async (argv) => {
  const value = (flag: string) => {
    const at = argv.indexOf(flag);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  const out = value('--out');
  if (argv.includes('--help') || !out) {
    console.log(`${USAGE}\n\n${exitCodesHelp([EXIT.usage])}`);
    return out ? EXIT.ok : EXIT.usage;
  }
  const pair = (await webcrypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const pkcs8 = new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', pair.privateKey));
  const publicKey = new Uint8Array(await webcrypto.subtle.exportKey('raw', pair.publicKey));
  const pem = `-----BEGIN PRIVATE KEY-----\n${toBase64(pkcs8).replace(/.{1,64}/g, '$&\n')}-----END PRIVATE KEY-----\n`;
  try {
    await writeFile(out, pem, { flag: 'wx', mode: 0o600 });
  } catch (e) {
    console.error(`keygen: cannot write ${out}: ${(e as Error).message}`);
    return EXIT.usage;
  }
  const entry = { id: value('--id') ?? `key-${await keyFingerprint(publicKey)}`, publicKey: toBase64(publicKey) };
  console.log(`private key: ${out} (keep it secret; sign with npm run export -- --sign-key ${out})`);
  console.log(`add to "keys" in models/trusted-keys.json:\n${JSON.stringify(entry, null, 2)}`);
});
