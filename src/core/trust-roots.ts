// What this build trusts: the shipped bundles pinned in models/index.json and the signing keys in models/trusted-keys.json, compiled in.
import index from '../../models/index.json';
import trustedKeys from '../../models/trusted-keys.json';
import { parseTrustRoots, type TrustRoots } from './bundle-trust.ts';

export const BUILD_TRUST_ROOTS: TrustRoots = parseTrustRoots(index, trustedKeys);
