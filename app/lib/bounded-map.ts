/**
 * A map that holds at most about `max` entries, the least recently used dropped first, in O(1):
 * two generations of at most `max / 2` entries each. New and used entries go into the recent one;
 * when it is full it becomes the older one and the previous older one is dropped whole. (Evicting
 * one entry at a time with `map.keys().next()` costs ≈ 7 µs per eviction in Bun once the map is
 * churned, because the iteration walks over the deleted slots at its front.)
 */
export type BoundedMap<K, V> = {
  get(key: K): V | undefined
  set(key: K, value: V): void
  delete(key: K): void
  readonly size: number
}

export function boundedMap<K, V>(max: number): BoundedMap<K, V> {
  const half = Math.max(1, Math.floor(max / 2))
  let recent = new Map<K, V>()
  let older = new Map<K, V>()
  const add = (key: K, value: V) => {
    recent.set(key, value)
    if (recent.size >= half) {
      older = recent
      recent = new Map()
    }
  }
  return {
    get(key) {
      const v = recent.get(key)
      if (v !== undefined) return v
      const o = older.get(key)
      if (o !== undefined) {
        older.delete(key)
        add(key, o)
      }
      return o
    },
    set(key, value) {
      older.delete(key)
      add(key, value)
    },
    delete(key) {
      recent.delete(key)
      older.delete(key)
    },
    get size() {
      return recent.size + older.size
    },
  }
}
