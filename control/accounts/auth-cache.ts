/**
 * A small per-isolate cache for credential lookups (API tokens, memberships, and any other
 * "who is this, may they" answer read from D1), so a request costs no D1 read in the common case.
 *
 * What must stay true: an entry answers freely for its `ttlMs` and never past the `expiresAt`
 * of what it caches, so a revocation made in another isolate (or straight in D1) takes effect
 * everywhere within the TTL, but for the one stale answer below. The isolate that makes a
 * change calls `forget`/`forgetWhere` right after its write, so there the change takes effect at
 * once. Misses (`null`) are cached for less time than hits, so a credential issued a moment
 * after a failed attempt is not refused for long.
 *
 * Reads behind the answer, when the caller gives a way to run work past its response
 * (`background`, the request's `waitUntil`), as HTTP's stale-while-revalidate does:
 * - a hit past half its TTL is served and read again, so a credential in steady use (a call at
 *   least every TTL) never waits on D1 and is re-checked at least every TTL;
 * - a hit past its TTL but within `staleMs` after it answers ONE request while it is read again;
 *   requests meanwhile load for themselves. A revoked credential therefore gets at most one
 *   request in that window, and none after it; an API call every few seconds (a CLI, a CI job)
 *   does not wait on D1 each time.
 * A refreshed entry counts its TTL from before its read, so the bound holds across refreshes.
 */

/** A cached lookup: the value (null for "no such credential") and when it stops being used. */
interface Entry<V> {
  value: V | null;
  /** When it was read (the start of its load): the refresh-ahead point counts from here. */
  at: number;
  /** Fresh until then; after it, stale (one answer while it is read again) until `staleUntil`. */
  until: number;
  staleUntil: number;
}

/** Runs work past the caller's response: the request's `waitUntil`. */
export type Background = (work: Promise<unknown>) => void;

/** How one lookup may use the cache. */
export interface GetOptions<V> {
  /** When the value itself stops being valid (a token's expiry): the entry never outlives it. */
  expiresAt?: (value: V) => number;
  /** Runs a background refresh past the caller's response (the request's `waitUntil`); none without it. */
  background?: Background;
  now?: number;
}

export interface AuthCacheOptions {
  /** How long a found value is used without asking D1 again (the revocation bound). */
  ttlMs: number;
  /** How long past `ttlMs` a found value may answer one request while it is read again (0: never). */
  staleMs: number;
  /** How long a miss is remembered; keep it short. */
  missTtlMs: number;
  /** Entries kept at most; the oldest go first. */
  maxEntries: number;
  /**
   * How long a refresh behind an answer waits before it reads (default 0). It is never urgent:
   * the entry has half its TTL left, or this request was answered stale and the next ones load
   * for themselves. Waiting keeps its reads off the isolate while the request's own work (a
   * launch, its round, its agent's reply) is still running beside it.
   */
  refreshDelayMs?: number;
}

/** See the module comment. */
export class AuthCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  /** Bumped by every forget: a load that started before it must not store what it read. */
  private generation = 0;
  /** Keys with a background refresh in flight: one at a time per key. */
  private readonly refreshing = new Set<string>();

  constructor(private readonly options: AuthCacheOptions) {}

  /**
   * The value for `key`: from the cache while fresh, else from `load` (stored for the TTL, cut
   * to `expiresAt(value)` when the value itself expires sooner). A hit past half its TTL starts
   * a background refresh when `background` is given. Concurrent misses each load: a promise
   * made in one request must not be awaited by another (workerd cancels what waits on a
   * request that has ended), and misses are rare.
   */
  async get(key: string, load: () => Promise<V | null>, options: GetOptions<V> = {}): Promise<V | null> {
    const now = options.now ?? Date.now();
    const hit = this.entries.get(key);
    if (hit !== undefined && hit.until > now) {
      if (options.background && hit.value !== null && now - hit.at >= this.options.ttlMs / 2)
        this.refresh(key, load, options.background, options.expiresAt, now);
      return hit.value;
    }
    // Stale: this request is answered if it is the one that starts the read again.
    if (options.background && hit?.value != null && hit.staleUntil > now && this.refresh(key, load, options.background, options.expiresAt, now))
      return hit.value;
    const generation = this.generation;
    const value = await load();
    if (generation === this.generation) this.store(key, value, options.expiresAt, now);
    return value;
  }

  /** Reads `key` again behind the caller's answer, unless a read is in flight (false); a failed read leaves the entry to expire. */
  private refresh(key: string, load: () => Promise<V | null>, background: Background, expiresAt: GetOptions<V>["expiresAt"], now: number): boolean {
    if (this.refreshing.has(key)) return false;
    this.refreshing.add(key);
    const generation = this.generation;
    const delay = this.options.refreshDelayMs ?? 0;
    const waited = delay > 0 ? new Promise((resolve) => setTimeout(resolve, delay)) : Promise.resolve();
    const work = waited
      .then(load)
      .then((value) => {
        if (generation === this.generation) this.store(key, value, expiresAt, now);
      })
      .catch(() => undefined)
      .finally(() => this.refreshing.delete(key));
    background(work);
    return true;
  }

  private store(key: string, value: V | null, expiresAt: ((value: V) => number) | undefined, now: number): void {
    let until = now + (value === null ? this.options.missTtlMs : this.options.ttlMs);
    let staleUntil = value === null ? until : until + this.options.staleMs;
    if (value !== null && expiresAt !== undefined) {
      until = Math.min(until, expiresAt(value));
      staleUntil = Math.min(staleUntil, expiresAt(value));
    }
    this.entries.delete(key);
    this.entries.set(key, { value, at: now, until, staleUntil });
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
