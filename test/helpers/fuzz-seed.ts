/**
 * One fast-check seed per test process. CI (CI=true) runs a fixed seed so a green run stays
 * green; elsewhere each run draws a new one, printed so any failure can be replayed with
 * FUZZ_SEED=<seed>.
 */
import fc from 'fast-check';

export const FIXED_CI_SEED = 20261122;

export function configureFuzzSeed(env: Readonly<Record<string, string | undefined>> = process.env): number {
  const seed =
    env.FUZZ_SEED !== undefined && env.FUZZ_SEED !== ''
      ? Number(env.FUZZ_SEED)
      : env.CI !== undefined && env.CI !== '' && env.CI !== 'false'
        ? FIXED_CI_SEED
        : Math.floor(Math.random() * 2 ** 31);
  fc.configureGlobal({ ...fc.readConfigureGlobal(), seed });
  console.log(`fast-check seed ${seed} (replay with FUZZ_SEED=${seed})`);
  return seed;
}
