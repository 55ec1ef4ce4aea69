/**
 * A smithy `requestHandler` for `@aws-sdk/client-sts` that sends through the sidecar's own
 * connection pool (src/session/http.ts), so AssumeRole uses exactly the CA bundle, proxy and NO_PROXY settings
 * (and timeouts) that CreateSession uses. The handler interface is smithy's `HttpHandler`
 * (`handle(request, { abortSignal })` -> `{ response }`, see @smithy/types http.ts).
 */
import type { SessionDispatcher } from '../session/http.js';
import type { HttpHandlerOptions, HttpRequest, HttpResponse } from '@smithy/types';

/* STS answers are a few KiB; the body is streamed to the SDK, which reads it whole. */

function pathWithQuery(req: HttpRequest): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(req.query ?? {})) {
    if (Array.isArray(v)) for (const x of v) params.append(k, x);
    else if (v !== null && v !== undefined) params.append(k, v);
  }
  const q = params.toString();
  return `${req.path}${q !== '' ? `?${q}` : ''}`;
}

export class UndiciHttpHandler {
  readonly metadata = { handlerProtocol: 'http/1.1' };

  constructor(private readonly dispatcher: SessionDispatcher) {}

  async handle(request: HttpRequest, options: HttpHandlerOptions = {}): Promise<{ response: HttpResponse }> {
    const port = request.port !== undefined ? `:${request.port}` : '';
    const origin = `${request.protocol}//${request.hostname}${port}`;
    const headers: Record<string, string> = {};
    // The pool sets Host from the origin; the SDK signed the same value.
    for (const [k, v] of Object.entries(request.headers)) if (k.toLowerCase() !== 'host') headers[k] = v;
    const res = await this.dispatcher.request({
      origin,
      path: pathWithQuery(request),
      method: request.method,
      headers,
      ...(request.body !== undefined && request.body !== null
        ? { body: typeof request.body === 'string' ? request.body : Buffer.from(request.body as Uint8Array).toString('utf8') }
        : {}),
      ...(options.abortSignal !== undefined ? { signal: options.abortSignal as AbortSignal } : {}),
    });
    const outHeaders: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) outHeaders[k] = Array.isArray(v) ? v.join(', ') : v;
    return { response: { statusCode: res.statusCode, headers: outHeaders, body: res.body } };
  }

  updateHttpClientConfig(): void {}

  httpHandlerConfigs(): Record<string, never> {
    return {};
  }

  destroy(): void {}
}
