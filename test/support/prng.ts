/** The product's seeded PRNG, so a failing property test names the seed that replays it. */
export { prng } from '../../src/domain/prng.js';
