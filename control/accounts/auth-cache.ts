/**
 * A small per-isolate cache for credential lookups (API tokens, memberships, and any other
 * "who is this, may they" answer read from D1), so a request costs no D1 read in the common case.
 *
 * What must stay true: an entry is never used past its `ttlMs`, nor past the `expiresAt` of what
 * it caches, so a revocation made in another isolate (or straight in D1) takes effect everywhere
 * within the TTL. The isolate that makes a change calls `forget`/`forgetWhere` right after its
 * write, so there the change takes effect at once. Misses (`null`) are cached for less time
 * than hits, so a credential issued a moment after a failed attempt is not refused for long.
 */

/** A cached lookup: the value (null for "no such credential") and when it stops being used. */
interface Entry<V> {
  value: V | null;
  until: number;
}

export interface AuthCacheOptions {
  /** How long a found value is used without asking D1 again (the revocation bound). */
  ttlMs: number;
  /** How long a miss is remembered; keep it short. */
  missTtlMs: number;
  /** Entries kept at most; the oldest go first. */
  maxEntries: number;
}

/** See the module comment. */
export class AuthCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  /** Bumped by every forget: a load that started before it must not store what it read. */
  private generation = 0;

  constructor(private readonly options: AuthCacheOptions) {}

  /**
   * The value for `key`: from the cache while fresh, else from `load` (stored for the TTL, cut
   * to `expiresAt(value)` when the value itself expires sooner). Concurrent misses each load:
   * a promise made in one request must not be awaited by another (workerd cancels what waits
   * on a request that has ended), and misses are rare.
   */
  async get(key: string, load: () => Promise<V | null>, expiresAt?: (value: V) => number, now = Date.now()): Promise<V | null> {
    const hit = this.entries.get(key);
    if (hit !== undefined && hit.until > now) return hit.value;
    const generation = this.generation;
    const value = await load();
    if (generation === this.generation) this.store(key, value, expiresAt, now);
    return value;
  }

  private store(key: string, value: V | null, expiresAt: ((value: V) => number) | undefined, now: number): void {
    let until = now + (value === null ? this.options.missTtlMs : this.options.ttlMs);
    if (value !== null && expiresAt !== undefined) until = Math.min(until, expiresAt(value));
    this.entries.delete(key);
    this.entries.set(key, { value, until });
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
  }

  /** Drops one key (after a write that changed what it maps to). */
  forget(key: string): void {
    this.generation++;
    this.entries.delete(key);
  }

  /** Drops every entry whose key or value matches (e.g. every token of a deleted user). */
  forgetWhere(match: (key: string, value: V | null) => boolean): void {
    this.generation++;
    for (const [key, entry] of this.entries) if (match(key, entry.value)) this.entries.delete(key);
  }
}
