/**
 * The PKCS#11 edge: a library loaded through `pkcs11js` (the maintained binding from the
 * authors of @peculiar/x509), the token a URI selects, a session on it, its objects, and
 * signatures made by the token. Keys never leave the token: this module only ever asks it
 * for certificates, public attributes and signatures.
 *
 * A session is opened on first use and kept. When the token goes away (unplugged, pcscd or
 * p11-kit server restarted, SoftHSM's store replaced) the next operation fails with a
 * session-lost return value; the session is dropped, the library re-initialised when it
 * says so, the token found again by its URI and the operation tried once more.
 */
import { loadPkcs11js } from './binding-loader.js';
import { SidecarError } from '../../core/errors.js';
import { describePkcs11Uri, type Pkcs11Uri } from './uri.js';

type Pkcs11Js = typeof import('pkcs11js');
type Handle = Buffer;

/** What the user is told about each object when a URI matches none or several. */
export interface ObjectInfo {
  readonly handle: Handle;
  readonly label: string;
  readonly id: Buffer;
}

/** The PIN, when the token needs one; asked for at most once per login. */
export type PinProvider = () => Promise<string | undefined>;

/** Return values after which the session (or the whole library) must be set up again. */
const SESSION_LOST = new Set([
  'CKR_SESSION_HANDLE_INVALID',
  'CKR_SESSION_CLOSED',
  'CKR_DEVICE_REMOVED',
  'CKR_DEVICE_ERROR',
  'CKR_TOKEN_NOT_PRESENT',
  'CKR_TOKEN_NOT_RECOGNIZED',
  'CKR_USER_NOT_LOGGED_IN',
  'CKR_OBJECT_HANDLE_INVALID',
  'CKR_KEY_HANDLE_INVALID',
  'CKR_SLOT_ID_INVALID',
  'CKR_CRYPTOKI_NOT_INITIALIZED',
  'CKR_GENERAL_ERROR',
]);

/** The CKR_ name of a pkcs11js error ("CKR_PIN_INCORRECT:160" -> CKR_PIN_INCORRECT), or undefined. */
export function ckrName(e: unknown): string | undefined {
  const msg = e instanceof Error ? e.message : '';
  const m = /\b(CKR_[A-Z0-9_]+)\b/.exec(msg);
  return m?.[1];
}

export function isSessionLost(e: unknown): boolean {
  const n = ckrName(e);
  return n !== undefined && SESSION_LOST.has(n);
}

function trimPadded(s: string): string {
  return s.replace(/[\s\0]+$/, '');
}

/** Loads the binding itself lazily: only PKCS#11 users pay for it, and it is an optional dependency. */
function loadBinding(): Pkcs11Js {
  try {
    return loadPkcs11js();
  } catch (e) {
    throw new SidecarError(
      'PKCS11_UNAVAILABLE',
      `the PKCS#11 binding (npm package pkcs11js) is not installed or did not build (${(e as Error).message.split('\n')[0] ?? ''}): reinstall with a C++ toolchain present (apt-get install build-essential python3), or use the .deb or npm package built with it`,
      { cause: e },
    );
  }
}

/**
 * One PKCS#11 library, initialised once and shared by every token session in this process
 * that names the same path. Created by the identity loader, never at module scope.
 */
export class Pkcs11Library {
  private lib: InstanceType<Pkcs11Js['PKCS11']> | undefined;
  private binding: Pkcs11Js | undefined;

  constructor(readonly path: string) {}

  /** The loaded, initialised library (loading and initialising it on first use). */
  get(): { p: InstanceType<Pkcs11Js['PKCS11']>; c: Pkcs11Js } {
    if (this.lib !== undefined && this.binding !== undefined) return { p: this.lib, c: this.binding };
    const c = (this.binding ??= loadBinding());
    const p = new c.PKCS11();
    try {
      p.load(this.path);
    } catch (e) {
      throw new SidecarError(
        'PKCS11_UNAVAILABLE',
        `PKCS#11 library ${this.path} could not be loaded (${(e as Error).message.split('\n')[0] ?? ''}): pass --pkcs11-lib with the path of your token's module, e.g. /usr/lib/softhsm/libsofthsm2.so or /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so`,
        { cause: e, details: { library: this.path } },
      );
    }
    try {
      p.C_Initialize();
    } catch (e) {
      if (ckrName(e) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') {
        throw new SidecarError(
          'PKCS11_UNAVAILABLE',
          `PKCS#11 library ${this.path} failed to initialise (${ckrName(e) ?? (e as Error).message}): check the token's configuration and daemon`,
          {
            cause: e,
            details: { library: this.path },
          },
        );
      }
    }
    this.lib = p;
    return { p, c };
  }

  /** Finalises and unloads, so the next get() starts afresh (after a daemon restart). */
  reset(): void {
    const p = this.lib;
    this.lib = undefined;
    if (p === undefined) return;
    try {
      p.C_Finalize();
    } catch {
      // already gone
    }
    try {
      p.close();
    } catch {
      // already closed
    }
  }
}

interface OpenSession {
  readonly slot: Handle;
  readonly session: Handle;
  loggedIn: boolean;
}

/**
 * A session on the token a URI selects. `what` names the flag for messages
 * (`--certificate`, `--private-key`).
 */
export class TokenSession {
  private open: OpenSession | undefined;
  readonly label: string;

  constructor(
    private readonly library: Pkcs11Library,
    private readonly uri: Pkcs11Uri,
    /** The user PIN's provider (also the context-specific PIN with --reuse-pin). */
    readonly pin: PinProvider,
  ) {
    this.label = `PKCS#11 ${describePkcs11Uri({ ...tokenPart(uri) })} (library ${library.path})`;
  }

  /** Runs `fn` on the session; a session-lost failure re-opens everything and tries once more. */
  async run<T>(fn: (s: { p: InstanceType<Pkcs11Js['PKCS11']>; c: Pkcs11Js; session: Handle }) => T | Promise<T>, needLogin: boolean): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        const { p, c } = this.library.get();
        const s = this.ensureSession();
        if (needLogin && !s.loggedIn) await this.login(s);
        return await fn({ p, c, session: s.session });
      } catch (e) {
        if (attempt === 0 && (isSessionLost(e) || (e instanceof SidecarError && e.code === 'PKCS11_TOKEN_NOT_FOUND'))) {
          this.drop(
            ckrName(e) === 'CKR_CRYPTOKI_NOT_INITIALIZED' ||
              ckrName(e) === 'CKR_DEVICE_REMOVED' ||
              ckrName(e) === 'CKR_GENERAL_ERROR' ||
              e instanceof SidecarError,
          );
          continue;
        }
        throw this.mapError(e);
      }
    }
  }

  /** Forgets the session (and, when `hard`, the initialised library), so the next use opens anew. */
  drop(hard = false): void {
    const s = this.open;
    this.open = undefined;
    if (s !== undefined) {
      try {
        this.library.get().p.C_CloseSession(s.session);
      } catch {
        // the token is gone: nothing to close
      }
    }
    if (hard) this.library.reset();
  }

  private ensureSession(): OpenSession {
    if (this.open !== undefined) return this.open;
    const { p, c } = this.library.get();
    const slot = this.findSlot();
    const session = p.C_OpenSession(slot, c.CKF_SERIAL_SESSION);
    const info = p.C_GetTokenInfo(slot);
    // A token without CKF_LOGIN_REQUIRED lets us sign without a PIN.
    this.open = { slot, session, loggedIn: (info.flags & c.CKF_LOGIN_REQUIRED) === 0 };
    return this.open;
  }

  private findSlot(): Handle {
    const { p } = this.library.get();
    const u = this.uri;
    const slots = p.C_GetSlotList(true);
    const matches: Handle[] = [];
    const seen: string[] = [];
    for (const slot of slots) {
      const t = p.C_GetTokenInfo(slot);
      const label = trimPadded(t.label);
      seen.push(`"${label}"`);
      if (u.slotId !== undefined && slot.readUIntLE(0, Math.min(slot.length, 6)) !== u.slotId) continue;
      if (u.token !== undefined && label !== u.token) continue;
      if (u.manufacturer !== undefined && trimPadded(t.manufacturerID) !== u.manufacturer) continue;
      if (u.model !== undefined && trimPadded(t.model) !== u.model) continue;
      if (u.serial !== undefined && trimPadded(t.serialNumber) !== u.serial) continue;
      if (u.slotDescription !== undefined && trimPadded(p.C_GetSlotInfo(slot).slotDescription) !== u.slotDescription) continue;
      matches.push(slot);
    }
    if (matches.length === 0) {
      throw new SidecarError(
        'PKCS11_TOKEN_NOT_FOUND',
        `no token matches ${describePkcs11Uri(tokenPart(u))} in PKCS#11 library ${this.library.path} (tokens present: ${seen.length > 0 ? seen.join(', ') : 'none'}): check token= in the URI, that the token is plugged in, and --pkcs11-lib`,
        { details: { library: this.library.path } },
      );
    }
    if (matches.length > 1) {
      throw new SidecarError(
        'PKCS11_OBJECT_AMBIGUOUS',
        `several tokens match ${describePkcs11Uri(tokenPart(u))} (${seen.join(', ')}): add token=, serial= or slot-id= to the URI to pick one`,
      );
    }
    return matches[0]!;
  }

  private async login(s: OpenSession): Promise<void> {
    const { p, c } = this.library.get();
    const pin = await this.pin();
    if (pin === undefined) {
      throw new SidecarError(
        'PKCS11_PIN_REQUIRED',
        `${this.label} needs its user PIN: add pin-source=/path/to/pin-file to the URI, set ROLESANYWHERE_PKCS11_PIN, or run in a terminal to be asked`,
      );
    }
    try {
      p.C_Login(s.session, c.CKU_USER, pin);
    } catch (e) {
      if (ckrName(e) !== 'CKR_USER_ALREADY_LOGGED_IN') throw e;
    }
    s.loggedIn = true;
  }

  /** CKU_CONTEXT_SPECIFIC login right before a signature by a CKA_ALWAYS_AUTHENTICATE key. */
  async contextLogin(session: Handle, pin: string | undefined): Promise<void> {
    const { p, c } = this.library.get();
    if (pin === undefined) {
      throw new SidecarError(
        'PKCS11_PIN_REQUIRED',
        `the key on ${this.label} asks for the PIN at every signature (CKA_ALWAYS_AUTHENTICATE): pass --reuse-pin to reuse the user PIN for it`,
      );
    }
    await Promise.resolve(p.C_Login(session, c.CKU_CONTEXT_SPECIFIC, pin));
  }

  /** Objects of a class matching the URI's object= and id=, with their labels and ids. */
  findObjects(p: InstanceType<Pkcs11Js['PKCS11']>, c: Pkcs11Js, session: Handle, cls: number, sel: Pick<Pkcs11Uri, 'object' | 'id'>, max = 64): ObjectInfo[] {
    const template: Array<{ type: number; value: number | string | Buffer }> = [{ type: c.CKA_CLASS, value: cls }];
    if (sel.object !== undefined) template.push({ type: c.CKA_LABEL, value: sel.object });
    if (sel.id !== undefined) template.push({ type: c.CKA_ID, value: sel.id });
    p.C_FindObjectsInit(session, template);
    let handles: Handle[];
    try {
      handles = p.C_FindObjects(session, max);
    } finally {
      p.C_FindObjectsFinal(session);
    }
    return handles.map((h) => {
      const attrs = p.C_GetAttributeValue(session, h, [{ type: c.CKA_LABEL }, { type: c.CKA_ID }]);
      return { handle: h, label: attrs[0]?.value?.toString('utf8') ?? '', id: attrs[1]?.value ?? Buffer.alloc(0) };
    });
  }

  private mapError(e: unknown): unknown {
    if (e instanceof SidecarError) return e;
    const n = ckrName(e);
    switch (n) {
      case 'CKR_PIN_INCORRECT':
        return new SidecarError(
          'PKCS11_PIN_INCORRECT',
          `the PIN for ${this.label} is wrong: check pin-source=, pin-value= or ROLESANYWHERE_PKCS11_PIN (tokens lock after a few wrong PINs)`,
          { cause: e },
        );
      case 'CKR_PIN_LOCKED':
        return new SidecarError(
          'PKCS11_PIN_LOCKED',
          `${this.label} is locked after too many wrong PINs: have the security officer unlock it (e.g. pkcs11-tool --unlock-pin, or softhsm2-util for SoftHSM)`,
          { cause: e },
        );
      case 'CKR_PIN_EXPIRED':
        return new SidecarError('PKCS11_PIN_LOCKED', `the PIN of ${this.label} has expired: set a new one with the token's tools`, { cause: e });
      case undefined:
        return new SidecarError('PKCS11_FAILED', `${this.label}: ${(e as Error).message.split('\n')[0] ?? 'failed'}`, { cause: e });
      default:
        return new SidecarError('PKCS11_FAILED', `${this.label} answered ${n}: check the token and its library`, {
          cause: e,
          retryable: isSessionLost(e),
          details: { ckr: n },
        });
    }
  }
}

function tokenPart(u: Pkcs11Uri): Pkcs11Uri {
  return {
    ...(u.token !== undefined ? { token: u.token } : {}),
    ...(u.manufacturer !== undefined ? { manufacturer: u.manufacturer } : {}),
    ...(u.model !== undefined ? { model: u.model } : {}),
    ...(u.serial !== undefined ? { serial: u.serial } : {}),
    ...(u.slotId !== undefined ? { slotId: u.slotId } : {}),
  };
}

/** One line per object for "which of these did you mean" messages. */
export function listObjects(objs: readonly ObjectInfo[]): string {
  return objs.map((o) => `object=${encodeURIComponent(o.label)};id=${[...o.id].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')}`).join(', ');
}
