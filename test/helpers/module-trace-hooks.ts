/** The resolve hook of module-trace.ts; runs on the loader thread. */
import { appendFileSync } from 'node:fs';

let file = '';

export function initialize(data: { file: string }): void {
  file = data.file;
}

type Resolve = (specifier: string, context: unknown) => Promise<{ url: string }>;

export async function resolve(specifier: string, context: unknown, next: Resolve): Promise<{ url: string }> {
  const r = await next(specifier, context);
  appendFileSync(file, `${r.url}\n`);
  return r;
}
