/**
 * Replaces src/identity/forge-loader.ts in the single-executable bundle. The bundler turns
 * this `require` into a call of node-forge's module wrapper inside the bundle, which still
 * runs only when a PKCS#12 input is read.
 */
import type forge from 'node-forge';

export const loadForge = (): typeof forge => require('node-forge') as typeof forge;
