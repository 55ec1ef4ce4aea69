/**
 * node-forge, loaded on first use (Node caches it after that): only PKCS#12 inputs need it,
 * and loading it up front would add ~50 ms to every credential-process run.
 *
 * Its own module because the single-executable bundle swaps it for one that `require`s
 * node-forge from the bundle (packaging/shims/forge-loader.ts): `createRequire` there would
 * look for node_modules on disk, which the executable has none of.
 */
import { createRequire } from 'node:module';
import type forge from 'node-forge';

export const loadForge = (): typeof forge => createRequire(import.meta.url)('node-forge') as typeof forge;
