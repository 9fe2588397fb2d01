/** Inputs for fuzzing: deterministic, so a failing case can be replayed from its seed. */

/** A small deterministic PRNG (mulberry32), so a failing fuzz case can be replayed. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function randomBytes(random: () => number, length: number): Uint8Array {
  return Uint8Array.from({ length }, () => Math.floor(random() * 256));
}

/** A copy of `message` with a few bytes flipped, cut short or extended. */
export function mutate(random: () => number, message: Uint8Array): Uint8Array {
  const copy = message.slice();
  const flips = 1 + Math.floor(random() * 4);
  for (let i = 0; i < flips; i++) copy[Math.floor(random() * copy.length)] = Math.floor(random() * 256);
  const roll = random();
  if (roll < 0.2) return copy.slice(0, Math.floor(random() * copy.length));
  if (roll < 0.3) return Uint8Array.from([...copy, ...randomBytes(random, 1 + Math.floor(random() * 40))]);
  return copy;
}
