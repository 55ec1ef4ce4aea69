/** The package version (read in config/, shared with the library entry point). */
export { VERSION } from '../config/version.js';
