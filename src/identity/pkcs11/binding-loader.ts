/**
 * The pkcs11js binding (a native addon), loaded on first use: only PKCS#11 users need it,
 * and it is an optional dependency that may not have built. Its own module because the
 * single-executable bundle swaps it (packaging/shims/pkcs11-loader.ts): a native addon
 * cannot be embedded in the executable and is looked for beside it instead.
 */
import { createRequire } from 'node:module';

export const loadPkcs11js = (): typeof import('pkcs11js') => createRequire(import.meta.url)('pkcs11js') as typeof import('pkcs11js');
