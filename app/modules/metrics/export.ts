import type { Db } from '../../../db/client.ts'
import { chunkIndex, pointsPerSeries, type RawPoint, readRuns } from './inbox.ts'
import type { Kind } from './kinds.ts'
import {
  groupSeries,
  groupValues,
  needsSketches,
  type ReadSeries,
  scalesOf,
  stepBuckets,
  type Aggregation,
} from './query.ts'

export const EXPORT_FORMATS = ['csv', 'json'] as const
export type ExportFormat = (typeof EXPORT_FORMATS)[number]

/** One exported value. */
export type ExportRow = { t: number; labels: Record<string, string>; value: number }

export const RAW_PAGE_ROWS = 4000
const GROUP_SERIES = 200
// Step buckets (each with a quantile sketch) held at once while exporting one group.
const BUCKETS_IN_MEMORY = 50_000
const MAX_CHUNK_STEPS = 2000

/**
 * Raw points of these series in [from, to), in (series, time) order, in pages of `pageRows` (the
 * last shorter). Each series is read in windows cut at its chunks' starts (chunkIndex), about a
 * page of points each, so memory holds about two pages whatever the range; the inbox's points
 * fall into the last window (app/modules/metrics/inbox.ts merges them).
 */
export async function* rawPages(db: Db, seriesIds: number[], from: number, to: number, pageRows = RAW_PAGE_ROWS) {
  const ids = [...new Set(seriesIds)].sort((a, b) => a - b)
  let page: RawPoint[] = []
  // Series whose chunks in range are small together are read in one go (the inbox is decoded once
  // a group, not once a series); a bigger one alone, in windows cut at its chunks' starts.
  for (let g = 0; g < ids.length; g += GROUP_SERIES) {
    const group = ids.slice(g, g + GROUP_SERIES)
    const sizes = await pointsPerSeries(db, group, from, to)
    // Only series with chunks in range: one whose points are all in the inbox is read when reached.
    const small = group.filter((id) => (sizes.get(id) ?? 0) > 0 && (sizes.get(id) ?? 0) < pageRows)
    const smallTotal = small.reduce((n, id) => n + (sizes.get(id) ?? 0), 0)
    const together = smallTotal <= 4 * pageRows ? new Set(small) : new Set<number>()
    const runs = together.size ? await readRuns(db, [...together], from, to) : []
    const byId = new Map(runs.map((r) => [r.seriesId, r]))
    for (const id of group) {
      const windows: [number, number][] = []
      if (together.has(id)) {
        const run = byId.get(id)
        if (run)
          for (let i = 0; i < run.ts.length; i++) page.push({ seriesId: id, ts: run.ts[i]!, value: run.values[i]! })
      } else {
        const bounds = [from]
        let acc = 0
        for (const c of await chunkIndex(db, id, from, to)) {
          if (acc >= pageRows && c.startTs > bounds.at(-1)!) {
            bounds.push(c.startTs)
            acc = 0
          }
          acc += c.n
        }
        bounds.push(to)
        for (let w = 0; w + 1 < bounds.length; w++) windows.push([bounds[w]!, bounds[w + 1]!])
      }
      for (const [wFrom, wTo] of windows)
        for (const run of await readRuns(db, [id], wFrom, wTo))
          for (let i = 0; i < run.ts.length; i++) page.push({ seriesId: id, ts: run.ts[i]!, value: run.values[i]! })
      while (page.length >= pageRows) {
        yield page.slice(0, pageRows)
        page = page.slice(pageRows)
      }
    }
  }
  if (page.length) yield page
}

export type AggregatedExport = { from: number; to: number; step: number; agg: Aggregation; by: string[]; kind?: Kind }

/**
 * Aggregated values one group at a time, each group in chunks of steps, so memory holds at most
 * about BUCKETS_IN_MEMORY step buckets whatever the range. Each chunk reads one step before it, so
 * `rate` has the previous bucket it needs at the chunk's first step.
 */
export async function* aggregatedGroups(db: Db, found: ReadSeries[], q: AggregatedExport) {
  for (const g of groupSeries(found, q.by)) {
    const ids = g.members.map((m) => m.id)
    const scales = scalesOf(g.members)
    const chunk = Math.max(1, Math.min(MAX_CHUNK_STEPS, Math.floor(BUCKETS_IN_MEMORY / ids.length))) * q.step
    for (let start = q.from; start < q.to; start += chunk) {
      const end = Math.min(q.to, start + chunk)
      const buckets = await stepBuckets(
        db,
        ids,
        {
          from: start === q.from ? start : start - q.step,
          to: end,
          step: q.step,
        },
        scales,
        { sketches: needsSketches(q.agg) },
      )
      const values = groupValues(g.members, buckets, q).filter(([t]) => t >= start)
      if (values.length) yield values.map(([t, value]): ExportRow => ({ t, labels: g.labels, value }))
    }
  }
}

/** A CSV field per RFC 4180: quoted when it holds a comma, quote, CR or LF; quotes doubled. */
export const csvField = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s)

/** The label columns of an export: every label name in play, sorted. */
export function labelColumns(labelSets: Record<string, string>[]) {
  return [...new Set(labelSets.flatMap((l) => Object.keys(l)))].sort()
}

/**
 * Writes rows as CSV (`time,name,<one column per label>,value`, CRLF line ends) or as one JSON
 * array of `{time, name, labels, value}`. A label column that would clash with time, name or value
 * is headed `label:<name>` (a colon cannot occur in a label name).
 */
export function formatter(format: ExportFormat, name: string, columns: string[]) {
  const nameField = csvField(name)
  if (format === 'csv') {
    const head = columns.map((c) => csvField(c === 'time' || c === 'name' || c === 'value' ? `label:${c}` : c))
    return {
      start: `${['time', 'name', ...head, 'value'].join(',')}\r\n`,
      rows: (rows: ExportRow[]) =>
        rows
          .map(
            (r) =>
              `${new Date(r.t).toISOString()},${nameField}${columns.map((c) => `,${csvField(r.labels[c] ?? '')}`).join('')},${r.value}\r\n`,
          )
          .join(''),
      end: () => '',
    }
  }
  let first = true
  return {
    start: '[',
    rows: (rows: ExportRow[]) =>
      rows
        .map((r) => {
          const sep = first ? '\n' : ',\n'
          first = false
          return `${sep}${JSON.stringify({ time: new Date(r.t).toISOString(), name, labels: r.labels, value: r.value })}`
        })
        .join(''),
    end: () => (first ? ']' : '\n]'),
  }
}
