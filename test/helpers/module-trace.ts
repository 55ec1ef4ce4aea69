/**
 * A preload that records every module the process loads, for tests that check what a
 * command pulls in: `node --import <this file> ...` with MODULE_TRACE_FILE set appends one
 * resolved URL per line to that file. ES modules are seen through a resolve hook
 * (module.register, Node >= 20.6); CommonJS modules, which packages such as undici and
 * node-forge are made of, through Module._load, so a package is seen whichever way it is
 * reached.
 */
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';

const file = process.env.MODULE_TRACE_FILE;
if (file !== undefined && file !== '') {
  register(new URL('./module-trace-hooks.js', import.meta.url), { data: { file } });
  const Module = createRequire(import.meta.url)('node:module') as {
    _load: (request: string, parent: unknown, isMain: boolean) => unknown;
    _resolveFilename: (request: string, parent: unknown) => string;
  };
  const load = Module._load;
  Module._load = function traced(request, parent, isMain) {
    try {
      const resolved = Module._resolveFilename(request, parent);
      appendFileSync(file, `${resolved.startsWith('/') ? pathToFileURL(resolved).href : resolved}\n`);
    } catch {
      // Resolution errors surface from the real load below.
    }
    return load.call(this, request, parent, isMain);
  };
}
