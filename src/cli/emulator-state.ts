/**
 * `emulator --state FILE`: the emulated Roles Anywhere state kept across restarts. Read
 * once at start (bounded), written atomically (0600) after every change, one write at a
 * time, the last change always written.
 */
import type { Clock, Random } from '../core/clock.js';
import { SidecarError, oneLine } from '../core/errors.js';
import { ControlPlaneError, ControlPlaneStore } from '../emulator/control/index.js';
import type { EmulatorConfig } from '../emulator/index.js';
import { readFileBounded, writeFileAtomic } from '../io/files.js';

/** Far above any real state (50 anchors, 2 CRLs of 300 KB each, subjects): a wrong file is not parsed at length. */
export const MAX_STATE_BYTES = 64 * 1024 * 1024;

export interface PersistedState {
  readonly store: ControlPlaneStore;
  /** Resolves once every change so far is on disk. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

class Missing extends Error {}

async function readState(path: string): Promise<Buffer | undefined> {
  try {
    return await readFileBounded(path, {
      maxBytes: MAX_STATE_BYTES,
      tooLarge: () => new SidecarError('INPUT_TOO_LARGE', `the state file ${path} is larger than ${MAX_STATE_BYTES} bytes: it is not an emulator state file`),
      unreadable: (code, cause) =>
        code === 'ENOENT' ? new Missing() : new SidecarError('FILE_UNREADABLE', `cannot read the state file ${path} (${code}): fix --state`, { cause }),
    });
  } catch (e) {
    if (e instanceof Missing) return undefined;
    throw e;
  }
}

export async function openState(path: string, config: EmulatorConfig, deps: { clock: Clock; random: Random }): Promise<PersistedState> {
  const bytes = await readState(path);
  let store: ControlPlaneStore;
  if (bytes === undefined) {
    store = ControlPlaneStore.fromConfig(config, deps);
  } else {
    let doc: unknown;
    try {
      doc = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw new SidecarError('CONFIG_INVALID', `the state file ${path} is not JSON: remove it to start from the flags, or give another --state`);
    }
    try {
      store = ControlPlaneStore.fromDocument(doc, ControlPlaneStore.optionsFor(config, deps));
    } catch (e) {
      const why = e instanceof ControlPlaneError || e instanceof SidecarError ? e.message : oneLine(String(e));
      throw new SidecarError(
        'CONFIG_INVALID',
        `the state file ${path} cannot be loaded (${why}): remove it to start from the flags, or fix --account/--emulator-region`,
        { cause: e },
      );
    }
  }
  let pending: Promise<void> = Promise.resolve();
  let dirty = false;
  let failure: SidecarError | undefined;
  const write = (): void => {
    dirty = true;
    pending = pending.then(async () => {
      if (!dirty) return;
      dirty = false;
      try {
        await writeFileAtomic(path, `${JSON.stringify(store.toDocument())}\n`, { mode: 0o600, random: deps.random });
      } catch (e) {
        failure = e as SidecarError;
      }
    });
  };
  const off = store.subscribe(write);
  write();
  const flush = async (): Promise<void> => {
    await pending;
    if (failure !== undefined) {
      const f = failure;
      failure = undefined;
      throw f;
    }
  };
  await flush();
  return {
    store,
    flush,
    close: async () => {
      off();
      await flush();
    },
  };
}
