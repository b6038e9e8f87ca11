/**
 * A map of at most `max` entries that drops one not used lately first: the CLOCK approximation of
 * least-recently-used. Entries sit in fixed slots with a "used" mark; a read or an overwrite marks
 * its slot, and a new key (unmarked), when the map is full, takes the first unmarked slot a
 * circling hand finds, clearing the marks it passes (so an entry used since the hand last went by
 * stays, and a key never used again goes before those that were). A hit writes one byte and no
 * pointers: the exact policy's linked list in order of use relinked two nodes per hit and kept
 * dirtying long-lived objects that every young collection then rescanned; evicting from a Map
 * re-ordered by delete + set is slow in Bun once churned; two generations of max / 2 kept too few
 * of the alerts a Prometheus re-sends. The measurements are in docs/adr/0006-alert-group-commit.md.
 */
export type BoundedMap<K, V> = {
  get(key: K): V | undefined
  set(key: K, value: V): void
  delete(key: K): void
  /** Sets a number kept with the key's entry (none when set: -Infinity) and returns the one before (NaN when the key is absent, and nothing is kept). */
  mark(key: K, value: number): number
  readonly size: number
}

export function boundedMap<K, V>(max: number): BoundedMap<K, V> {
  const slots = new Map<K, number>()
  const keys: (K | undefined)[] = []
  const values: (V | undefined)[] = []
  const used = new Uint8Array(max)
  const marks = new Float64Array(max)
  const free: number[] = [] // slots emptied by delete
  let hand = 0
  const slotForNew = (): number => {
    if (free.length) return free.pop()!
    if (keys.length < max) return keys.length
    // Full (no empty slot): the hand clears the marks it passes and takes the first unmarked slot.
    for (;;) {
      const i = hand
      hand = i + 1 === max ? 0 : i + 1
      if (used[i]) used[i] = 0
      else {
        slots.delete(keys[i]!)
        return i
      }
    }
  }
  return {
    get(key) {
      const i = slots.get(key)
      if (i === undefined) return undefined
      used[i] = 1
      return values[i]
    },
    set(key, value) {
      const i = slots.get(key)
      if (i !== undefined) {
        values[i] = value
        used[i] = 1
        marks[i] = -Infinity
        return
      }
      // A new key comes in unmarked: one never used again goes before the entries that were.
      const slot = slotForNew()
      slots.set(key, slot)
      keys[slot] = key
      values[slot] = value
      used[slot] = 0
      marks[slot] = -Infinity
    },
    mark(key, value) {
      const i = slots.get(key)
      if (i === undefined) return NaN
      const before = marks[i]!
      marks[i] = value
      return before
    },
    delete(key) {
      const i = slots.get(key)
      if (i === undefined) return
      slots.delete(key)
      keys[i] = values[i] = undefined
      used[i] = 0
      free.push(i)
    },
    get size() {
      return slots.size
    },
  }
}
