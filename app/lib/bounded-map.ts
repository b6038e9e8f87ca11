/**
 * A map of at most `max` entries that drops the least recently used first, in O(1): a Map from key
 * to a node of a doubly linked list kept in order of use. (Evicting with `map.keys().next()` on a
 * Map that is also re-ordered by delete + set costs ≈ 7 µs per eviction in Bun once the map is
 * churned, because the iteration walks over the deleted slots at its front; an approximation with
 * two generations of max / 2 kept too few of the alerts a Prometheus server re-sends.)
 */
export type BoundedMap<K, V> = {
  get(key: K): V | undefined
  set(key: K, value: V): void
  delete(key: K): void
  readonly size: number
}

type Node<K, V> = { key: K; value: V; newer: Node<K, V> | null; older: Node<K, V> | null }

export function boundedMap<K, V>(max: number): BoundedMap<K, V> {
  const nodes = new Map<K, Node<K, V>>()
  let newest: Node<K, V> | null = null
  let oldest: Node<K, V> | null = null
  const unlink = (n: Node<K, V>) => {
    if (n.newer) n.newer.older = n.older
    else newest = n.older
    if (n.older) n.older.newer = n.newer
    else oldest = n.newer
    n.newer = n.older = null
  }
  const pushNewest = (n: Node<K, V>) => {
    n.older = newest
    if (newest) newest.newer = n
    newest = n
    oldest ??= n
  }
  return {
    get(key) {
      const n = nodes.get(key)
      if (!n) return undefined
      if (n !== newest) {
        unlink(n)
        pushNewest(n)
      }
      return n.value
    },
    set(key, value) {
      const n = nodes.get(key)
      if (n) {
        n.value = value
        if (n !== newest) {
          unlink(n)
          pushNewest(n)
        }
        return
      }
      const added: Node<K, V> = { key, value, newer: null, older: null }
      nodes.set(key, added)
      pushNewest(added)
      while (nodes.size > max && oldest) {
        const drop: Node<K, V> = oldest
        unlink(drop)
        nodes.delete(drop.key)
      }
    },
    delete(key) {
      const n = nodes.get(key)
      if (!n) return
      unlink(n)
      nodes.delete(key)
    },
    get size() {
      return nodes.size
    },
  }
}
