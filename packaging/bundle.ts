/**
 * The CLI as one CommonJS file (esbuild), the input of the single executable and of the
 * container image. CommonJS because a Node 20 single executable's main script must be one
 * (https://nodejs.org/docs/latest-v20.x/api/single-executable-applications.html); the
 * commands' `import()`s stay lazy: esbuild wraps each imported module in an init function
 * that runs on first import, so `credential-process` on a cache hit still evaluates
 * neither the servers nor the certificate parsers.
 *
 * Three modules read the package directory at run time and are swapped for ones that carry
 * what they read (packaging/shims/): the version, certs-example/ and node-forge's loader.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { build, type Message, type Metafile, type Plugin } from 'esbuild';
import { CERTS_EXAMPLE_FILES } from '../src/cli/certs-example.js';

export interface BundleResult {
  readonly file: string;
  readonly version: string;
  /** Packages (name@version) whose code is in the bundle, for the license notices. */
  readonly packages: readonly string[];
  readonly bytes: number;
}

/** Source module (under the repository root) -> its replacement in packaging/shims/. */
const SHIMS: ReadonlyMap<string, string> = new Map([
  ['src/config/version.ts', 'packaging/shims/version.ts'],
  ['src/identity/forge-loader.ts', 'packaging/shims/forge-loader.ts'],
  ['src/identity/asn1-loader.ts', 'packaging/shims/asn1-loader.ts'],
  ['src/cli/certs-example.ts', 'packaging/shims/certs-example.ts'],
  ['src/identity/worker-script.ts', 'packaging/shims/worker-script.ts'],
  ['src/identity/pkcs11/binding-loader.ts', 'packaging/shims/pkcs11-loader.ts'],
]);

function shimPlugin(root: string): Plugin {
  const byPath = new Map([...SHIMS].map(([from, to]) => [join(root, from), join(root, to)]));
  return {
    name: 'rolesanywhere-sidecar-shims',
    setup(b) {
      b.onResolve({ filter: /\.js$/ }, (args) => {
        if (!args.path.startsWith('.')) return undefined;
        const target = resolve(args.resolveDir, args.path).replace(/\.js$/, '.ts');
        const shim = byPath.get(target);
        return shim === undefined ? undefined : { path: shim };
      });
    },
  };
}

/** `virtual:key-derivation-worker`: the worker's code as a string, bundled with the same shims. */
function workerSourcePlugin(code: string): Plugin {
  return {
    name: 'rolesanywhere-sidecar-worker-source',
    setup(b) {
      b.onResolve({ filter: /^virtual:key-derivation-worker$/ }, () => ({ path: 'key-derivation-worker', namespace: 'worker-source' }));
      b.onLoad({ filter: /.*/, namespace: 'worker-source' }, () => ({ contents: `export default ${JSON.stringify(code)};`, loader: 'js' }));
    },
  };
}

/** node_modules/<name> or node_modules/@scope/<name> of every bundled input. */
export function bundledPackageDirs(metafile: Metafile): string[] {
  const dirs = new Set<string>();
  for (const input of Object.keys(metafile.inputs)) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) dirs.add(m[1]!);
  }
  return [...dirs].sort();
}

/**
 * Bundles cmd/rolesanywhere-sidecar.ts (from the TypeScript sources: esbuild compiles them
 * itself) into `outFile`. `root` is the repository root; `certsExample`: embed the
 * certs-example/ files `demo` and the emulator's default trust anchor use.
 */
export async function bundleCli(root: string, outFile: string, o: { certsExample: boolean }): Promise<BundleResult & { packageDirs: string[] }> {
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
  const certsExample: Record<string, string> = {};
  if (o.certsExample) for (const name of CERTS_EXAMPLE_FILES) certsExample[name] = await readFile(join(root, 'certs-example', name), 'utf8');
  // One Node 20 CommonJS build for both. Smaller source is less to parse at every start;
  // names kept because error classes report their constructor's name.
  const common = {
    absWorkingDir: root,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    minify: true,
    keepNames: true,
    legalComments: 'none',
    logLevel: 'silent',
  } as const;
  const warningsOf = (what: string, warnings: readonly Message[]): void => {
    // Every warning is a defect here (an import.meta left in CommonJS would be empty, a
    // require() esbuild cannot follow would fail inside the executable).
    if (warnings.length > 0)
      throw new Error(`esbuild warnings${what}:\n${warnings.map((w) => `${w.location?.file ?? ''}:${w.location?.line ?? ''} ${w.text}`).join('\n')}`);
  };
  // The key-derivation worker, bundled first into one script the main bundle carries.
  const worker = await build({
    ...common,
    entryPoints: [join(root, 'src/identity/key-derivation-worker.ts')],
    write: false,
    // The worker imports key-derivation.ts too but never starts a worker of its own.
    plugins: [shimPlugin(root), workerSourcePlugin('')],
  });
  warningsOf(' (worker)', worker.warnings);
  const workerCode = worker.outputFiles[0]!.text;
  const result = await build({
    ...common,
    entryPoints: [join(root, 'cmd/rolesanywhere-sidecar.ts')],
    outfile: outFile,
    metafile: true,
    define: {
      ROLESANYWHERE_SIDECAR_VERSION: JSON.stringify(pkg.version),
      ROLESANYWHERE_SIDECAR_CERTS_EXAMPLE: JSON.stringify(certsExample),
    },
    plugins: [shimPlugin(root), workerSourcePlugin(workerCode)],
  });
  warningsOf('', result.warnings);
  const packageDirs = bundledPackageDirs(result.metafile);
  const packages: string[] = [];
  for (const dir of packageDirs) {
    const p = JSON.parse(await readFile(join(root, dir, 'package.json'), 'utf8')) as { name: string; version: string };
    packages.push(`${p.name}@${p.version}`);
  }
  const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
  return { file: outFile, version: pkg.version, packages, packageDirs, bytes };
}
