/**
 * A memory-lean map from a document identity to the fingerprint of its content and where it was
 * first seen, for finding duplicates while validating inputs of millions of documents. Keys and
 * values are 64-bit hashes kept in typed arrays (20 bytes a slot, open addressing), about a tenth
 * of what a Map of strings would take; validation of a million documents stays within tens of MB.
 */

export interface Hash64 {
  hi: number;
  lo: number;
}

/** cyrb53-style string hash, two seeds for 64 independent-enough bits. */
export function hash64(text: string): Hash64 {
  return new Hash64Builder().update(text).digest();
}

const SEED_HI = 0x9e3779b9;
const SEED_LO = 0x85ebca6b;

/**
 * `hash64` of a text given in parts, equal to `hash64` of the parts joined, without joining them
 * (a content can be large); a few hundred nanoseconds for a short text where a native hash object
 * costs microseconds to create.
 */
export class Hash64Builder {
  private hi1 = 0xdeadbeef ^ SEED_HI;
  private hi2 = 0x41c6ce57 ^ SEED_HI;
  private lo1 = 0xdeadbeef ^ SEED_LO;
  private lo2 = 0x41c6ce57 ^ SEED_LO;

  update(text: string): this {
    let { hi1, hi2, lo1, lo2 } = this;
    for (let i = 0; i < text.length; i++) {
      const ch = text.charCodeAt(i);
      hi1 = Math.imul(hi1 ^ ch, 2654435761);
      hi2 = Math.imul(hi2 ^ ch, 1597334677);
      lo1 = Math.imul(lo1 ^ ch, 2654435761);
      lo2 = Math.imul(lo2 ^ ch, 1597334677);
    }
    this.hi1 = hi1;
    this.hi2 = hi2;
    this.lo1 = lo1;
    this.lo2 = lo2;
    return this;
  }

  digest(): Hash64 {
    return { hi: finish(this.hi1, this.hi2), lo: finish(this.lo1, this.lo2) };
  }
}

function finish(a: number, b: number): number {
  const h1 = Math.imul(a ^ (a >>> 16), 2246822507) ^ Math.imul(b ^ (b >>> 13), 3266489909);
  const h2 = Math.imul(b ^ (b >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (h1 ^ h2) >>> 0;
}

const SLOT = 5; // key hi, key lo, value hi, value lo, first position + 1 (0 = empty)

export class IdentityMap {
  private slots: Uint32Array;
  private capacity: number;
  size = 0;

  constructor(initialCapacity = 1024) {
    this.capacity = 1 << Math.ceil(Math.log2(Math.max(16, initialCapacity)));
    this.slots = new Uint32Array(this.capacity * SLOT);
  }

  /**
   * Records `key → value` at `position` unless the key is present; returns the existing entry
   * (its value and first position) when it is.
   */
  putIfAbsent(key: Hash64, value: Hash64, position: number): { value: Hash64; position: number } | null {
    if ((this.size + 1) * 2 > this.capacity) this.grow();
    let i = (key.lo & (this.capacity - 1)) * SLOT;
    for (;;) {
      const used = this.slots[i + 4]!;
      if (used === 0) {
        this.write(i, key, value, position);
        this.size += 1;
        return null;
      }
      if (this.slots[i] === key.hi && this.slots[i + 1] === key.lo) {
        return { value: { hi: this.slots[i + 2]!, lo: this.slots[i + 3]! }, position: used - 1 };
      }
      i = (i + SLOT) % (this.capacity * SLOT);
    }
  }

  /** A map over the `table` of another (see `table`), which it takes over. */
  static fromTable(table: Uint32Array): IdentityMap {
    const map = new IdentityMap(16);
    map.slots = table;
    map.capacity = table.length / SLOT;
    for (let j = 4; j < table.length; j += SLOT) if (table[j] !== 0) map.size += 1;
    return map;
  }

  /** The map's slots, for `agreesWith` in another thread. */
  get table(): Uint32Array {
    return this.slots;
  }

  /**
   * Whether every key of another map's `table` that is here has the same value here: the check
   * between two parts of an input, each with its own map. Nothing is added.
   */
  agreesWith(table: Uint32Array): boolean {
    for (let j = 0; j < table.length; j += SLOT) {
      if (table[j + 4] === 0) continue;
      let i = (table[j + 1]! & (this.capacity - 1)) * SLOT;
      while (this.slots[i + 4] !== 0) {
        if (this.slots[i] === table[j] && this.slots[i + 1] === table[j + 1]) {
          if (this.slots[i + 2] !== table[j + 2] || this.slots[i + 3] !== table[j + 3]) return false;
          break;
        }
        i = (i + SLOT) % (this.capacity * SLOT);
      }
    }
    return true;
  }

  private write(i: number, key: Hash64, value: Hash64, position: number): void {
    this.slots[i] = key.hi;
    this.slots[i + 1] = key.lo;
    this.slots[i + 2] = value.hi;
    this.slots[i + 3] = value.lo;
    this.slots[i + 4] = position + 1;
  }

  private grow(): void {
    const old = this.slots;
    this.capacity *= 2;
    this.slots = new Uint32Array(this.capacity * SLOT);
    for (let j = 0; j < old.length; j += SLOT) {
      if (old[j + 4] === 0) continue;
      let i = (old[j + 1]! & (this.capacity - 1)) * SLOT;
      while (this.slots[i + 4] !== 0) i = (i + SLOT) % (this.capacity * SLOT);
      this.slots.set(old.subarray(j, j + SLOT), i);
    }
  }
}
