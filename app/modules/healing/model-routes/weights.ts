import type { RouteTarget } from '../../../../db/schema/healing.ts'

/**
 * Weighted routes: a route is weighted as soon as one of its targets carries a `weight`. Its read
 * then splits callers over the healthy targets by weight instead of sending everyone to the active
 * target. A target without a weight (or with 0) takes no share: it is a standby, used only when no
 * weighted target is healthy.
 */
export const isWeighted = (targets: readonly RouteTarget[]) => targets.some((t) => t.weight !== undefined)

/** Why every weight of a weighted route being 0 is refused: nothing would ever get traffic by weight. */
export const weightsValid = (targets: readonly RouteTarget[]) =>
  !isWeighted(targets) || targets.some((t) => (t.weight ?? 0) > 0)

/**
 * 32-bit FNV-1a over the UTF-16 code units, finished with murmur3's fmix32: FNV alone spreads
 * keys that differ only in their last characters (`caller-17`, `caller-18`) badly over the high bits.
 */
export function hash32(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** The candidates of one split: target indexes, their weights (> 0) and their identities (hash salt). */
export type Split = { indexes: number[]; weights: number[]; ids: string[] }

/**
 * Weighted rendezvous hashing: each candidate scores `-ln(u) / weight` with `u` uniform from
 * hash(key, candidate), the lowest score wins. Candidate i wins with probability weight_i / Σ
 * weights, the same key always wins the same candidate, and a candidate dropping out (breaker
 * open) moves only the callers it had: everyone else stays where they were, so their caches and
 * sessions hold. No per-key state is kept. The salt is the target's identity (host + model), not
 * its position, so reordering targets moves nobody.
 */
export function pickByKey(split: Split, key: string): number {
  let best = -1
  let bestScore = Infinity
  for (let i = 0; i < split.indexes.length; i++) {
    const u = (hash32(`${split.ids[i]}\u0000${key}`) + 0.5) / 4294967296
    const score = -Math.log(u) / split.weights[i]!
    if (score < bestScore) {
      bestScore = score
      best = split.indexes[i]!
    }
  }
  return best
}

/** Without a caller key: weighted random (`rand` in [0, 1)). */
export function pickRandom(split: Split, rand: number): number {
  let total = 0
  for (const w of split.weights) total += w
  let at = rand * total
  for (let i = 0; i < split.indexes.length; i++) {
    at -= split.weights[i]!
    if (at < 0) return split.indexes[i]!
  }
  return split.indexes.at(-1)!
}

/**
 * The split of a weighted route given which targets are healthy: the healthy targets with a weight
 * above 0; when none is, the first healthy standby (a target without weight) alone; when nothing is
 * healthy, every weighted target (the caller gets an unhealthy target, marked so, rather than no
 * answer, as an unweighted route whose targets are all down does).
 */
export function splitOf(
  targets: readonly RouteTarget[],
  healthy: readonly boolean[],
  idOf: (t: RouteTarget) => string,
) {
  const make = (indexes: number[], weightOf: (i: number) => number): Split => ({
    indexes,
    weights: indexes.map(weightOf),
    ids: indexes.map((i) => idOf(targets[i]!)),
  })
  const weighted = [...targets.keys()].filter((i) => (targets[i]!.weight ?? 0) > 0)
  const up = weighted.filter((i) => healthy[i])
  if (up.length) return make(up, (i) => targets[i]!.weight!)
  const standby = [...targets.keys()].find((i) => healthy[i])
  if (standby !== undefined) return make([standby], () => 1)
  return make(weighted, (i) => targets[i]!.weight!)
}

/** The share of callers (0–1) each target gets right now under `splitOf` (0 for targets out of it). */
export function sharesOf(
  targets: readonly RouteTarget[],
  healthy: readonly boolean[],
  idOf: (t: RouteTarget) => string,
) {
  const split = splitOf(targets, healthy, idOf)
  const total = split.weights.reduce((s, w) => s + w, 0)
  const shares = targets.map(() => 0)
  split.indexes.forEach((index, i) => {
    shares[index] = total > 0 ? split.weights[i]! / total : 0
  })
  return shares
}
