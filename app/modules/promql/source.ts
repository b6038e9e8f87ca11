/** The evaluator's view of the metrics module: series by matchers, with their raw points. */
import type { Db } from '../../../db/client.ts'
import { compileMatchers } from '../../lib/matchers.ts'
import { UserRegexError } from '../../lib/safe-regex.ts'
import { kindsOf, listSeries, quantile, readRaw, scalesOf, stepBuckets } from '../metrics/index.ts'
import { badData, type Matcher } from './ast.ts'
import type { Source } from './eval.ts'

/**
 * The series a selector's matchers pick, with `__name__` among their labels. A selector naming a
 * renamed metric (`__name__="…"`) also picks the series stored under its other name, named and
 * scaled as the one asked for (metrics/names.ts); a regular expression on `__name__` sees stored names.
 */
export async function matchSeries(db: Db, matchers: Matcher[]) {
  const name = matchers.find((m) => m.label === '__name__' && m.op === '=')?.value
  let test: (l: Record<string, string>) => boolean
  try {
    test = compileMatchers(matchers)
  } catch (e) {
    if (e instanceof UserRegexError) throw badData(`invalid regular expression in matcher: ${e.message}`)
    throw e
  }
  const rows = await listSeries(db, name)
  return rows
    .map((s) => ({ ...s, labels: { __name__: s.name, ...s.labels } as Record<string, string> }))
    .filter((s) => test(s.labels))
}

/** A Source over the database: raw points (both tables), step buckets from the rollups, metric kinds. */
export const dbSource = (db: Db): Source => ({
  kinds: (names) => kindsOf(db, names),
  async select(matchers, from, to) {
    const found = await matchSeries(db, matchers)
    const byId = new Map(
      found.map((s) => [s.id, { labels: s.labels, scale: s.scale, ts: [] as number[], vs: [] as number[] }]),
    )
    const ids = [...byId.keys()]
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await readRaw(db, ids.slice(i, i + 500), from, to + 1)
      rows.sort((a, b) => a.seriesId - b.seriesId || a.ts - b.ts)
      for (const p of rows) {
        const s = byId.get(p.seriesId)!
        s.ts.push(p.ts)
        s.vs.push(p.value * s.scale)
      }
    }
    return [...byId.values()].filter((s) => s.ts.length).map(({ scale: _, ...s }) => s)
  },
  async buckets(matchers, from, to, step) {
    const found = await matchSeries(db, matchers)
    const read = await stepBuckets(
      db,
      found.map((s) => s.id),
      { from, to, step },
      scalesOf(found),
    )
    return found.map((s) => {
      const at = new Map()
      for (const [t, b] of read.get(s.id) ?? [])
        at.set(t, { ...b, quantile: (q: number) => quantile(b.sketch, q) ?? NaN })
      return { labels: s.labels, at }
    })
  },
})
