import { Hono, type Context } from 'hono'
import { stream } from 'hono/streaming'
import * as v from 'valibot'
import type { AppEnv, ModuleDeps } from '../../context.ts'
import { badRequest, type ErrorDetail } from '../../lib/errors.ts'
import { describe } from '../../lib/route-meta.ts'
import { TimeInput, toIso } from '../../lib/time.ts'
import { validate } from '../../lib/validate.ts'
import { access } from '../../middleware/access.ts'
import { aggregatedGroups, EXPORT_FORMATS, formatter, labelColumns, rawPages, type ExportRow } from './export.ts'
import { kindOf } from './kinds.ts'
import { aggregations, findSeries } from './query.ts'
import { matchers } from './routes.ts'
import { Duration, MetricName } from './schema.ts'
import { computeTrends, defaultStep } from './trends.ts'

const MAX_TREND_STEPS = 11_000 // both windows together, as many as a query may return
const MAX_EXPORT_STEPS = 1_000_000
const MIN_WINDOW = 60_000

const Agg = v.optional(v.picklist(aggregations, `must be one of ${aggregations.join(', ')}`), 'avg')
const By = v.optional(
  v.pipe(
    v.string(),
    v.regex(/^([a-zA-Z_][a-zA-Z0-9_]*)(,[a-zA-Z_][a-zA-Z0-9_]*)*$/, 'must be label names separated by commas'),
  ),
)
const NumberText = v.pipe(
  v.string(),
  v.trim(),
  v.regex(/^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/, 'must be a number'),
  v.transform(Number),
  v.finite('must be a finite number'),
)

const TrendParams = v.object({
  name: MetricName,
  window: v.optional(Duration),
  step: v.optional(Duration),
  agg: Agg,
  by: By,
  threshold: v.optional(NumberText),
  to: v.optional(TimeInput),
})

const ExportParams = v.object({
  format: v.optional(v.picklist(EXPORT_FORMATS, `must be one of ${EXPORT_FORMATS.join(', ')}`), 'csv'),
  name: MetricName,
  from: v.optional(TimeInput),
  to: v.optional(TimeInput),
  step: v.optional(Duration),
  agg: Agg,
  by: By,
})

function refuse(problems: (ErrorDetail | false)[]) {
  const list = problems.filter((p): p is ErrorDetail => p !== false)
  if (list.length) throw badRequest('Invalid query', list)
}

const compact = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/[-:]/g, '')

/**
 * Streams what `produce` writes. An error before this is called is an ordinary JSON error. Once the
 * 200 and the first bytes are out, a failure (the database going away mid-export) is logged and
 * the body is aborted, not ended: the client sees a broken transfer (curl exits with code 18),
 * never a short file that looks whole.
 */
function streamed(
  c: Context<AppEnv>,
  deps: ModuleDeps,
  produce: (write: (text: string) => Promise<void>, stopped: () => boolean) => Promise<void>,
) {
  let fail: (e: unknown) => void = () => {}
  const guard = new TransformStream<Uint8Array, Uint8Array>({
    start(controller) {
      fail = (e) => controller.error(e)
    },
  })
  const res = stream(
    c,
    async (s) => {
      await produce(
        async (text) => void (text && (await s.write(text))),
        () => s.aborted,
      )
    },
    async (err) => {
      deps.log.error('export failed mid-stream', {
        requestId: c.get('requestId'),
        path: c.req.path,
        error: err.message,
      })
      fail(err)
    },
  )
  return new Response(res.body!.pipeThrough(guard), res)
}

export function metricsQueryRoutes(deps: ModuleDeps) {
  const { db } = deps
  const app = new Hono<AppEnv>()
  const tags = ['metrics']

  app.get(
    '/api/v1/metrics/trends',
    access('viewer'),
    describe(
      'Trends of a metric over a window: change vs the previous window, slope, z-score of the latest step, threshold forecast (linear fit)',
      tags,
    ),
    validate('query', TrendParams),
    async (c) => {
      const q = c.req.valid('query')
      const window = q.window ?? 3_600_000
      const step = q.step ?? defaultStep(window)
      refuse([
        window < MIN_WINDOW && { field: 'window', message: 'must be at least 1m' },
        window % 1000 !== 0 && { field: 'window', message: 'must be whole seconds' },
        step < 1000 && { field: 'step', message: 'must be at least 1s' },
        step * 2 > window && { field: 'step', message: 'must be at most half the window' },
        window % step !== 0 && { field: 'step', message: 'must divide the window' },
        (2 * window) / step > MAX_TREND_STEPS && {
          field: 'step',
          message: `gives more than ${MAX_TREND_STEPS} steps over the two windows; use a larger step`,
        },
      ])
      const now = q.to ?? Date.now()
      const match = matchers(c)
      const r = await computeTrends(db, {
        name: q.name,
        match,
        by: q.by ? q.by.split(',') : [],
        agg: q.agg,
        window,
        step,
        now,
        threshold: q.threshold,
      })
      return c.json({
        name: q.name,
        agg: q.agg,
        window,
        step,
        threshold: q.threshold ?? null,
        current: { from: toIso(r.current.from), to: toIso(r.current.to) },
        previous: { from: toIso(r.previous.from), to: toIso(r.previous.to) },
        series: r.series.map((s) => ({
          labels: s.labels,
          series: s.series,
          current: s.current,
          previous: s.previous,
          change: s.change.abs,
          changePct: s.change.pct,
          slopePerHour: s.stats.slopePerHour,
          r2: s.stats.r2,
          points: s.stats.points,
          latest: s.stats.latest && { time: toIso(s.stats.latest.t), value: s.stats.latest.value },
          mean: s.stats.mean,
          std: s.stats.std,
          zScore: s.stats.zScore,
          forecast:
            q.threshold === undefined
              ? null
              : { threshold: q.threshold, at: toIso(s.stats.forecastAt), r2: s.stats.r2 },
        })),
      })
    },
  )

  app.get(
    '/api/v1/metrics/export',
    access('viewer'),
    describe('Export a metric as CSV or JSON, streamed: raw points (no step) or a query result (step, agg, by)', tags),
    validate('query', ExportParams),
    async (c) => {
      const q = c.req.valid('query')
      const to = q.to ?? Date.now()
      const requestedFrom = q.from ?? to - 3_600_000
      refuse([
        requestedFrom >= to && { field: 'from', message: 'must be before to' },
        q.step !== undefined && q.step < 1000 && { field: 'step', message: 'must be at least 1s' },
        q.step !== undefined &&
          q.step >= 1000 &&
          (to - requestedFrom) / q.step > MAX_EXPORT_STEPS && {
            field: 'step',
            message: `gives more than ${MAX_EXPORT_STEPS} steps; use a larger step`,
          },
        q.step === undefined &&
          q.by !== undefined && {
            field: 'by',
            message: 'needs step: a raw export has one row per point of each series',
          },
      ])
      const match = matchers(c)
      const found = await findSeries(db, q.name, match) // a database error here is still a JSON error
      const step = q.step
      const from = step ? requestedFrom - (requestedFrom % step) : requestedFrom
      const by = q.by ? q.by.split(',') : []
      const columns = labelColumns(
        step && by.length ? [Object.fromEntries(by.map((k) => [k, '']))] : found.map((s) => s.labels),
      )
      const out = formatter(q.format, q.name, columns)
      c.header(
        'Content-Type',
        q.format === 'csv' ? 'text/csv; charset=utf-8; header=present' : 'application/json; charset=utf-8',
      )
      c.header(
        'Content-Disposition',
        `attachment; filename="${q.name.replace(/:/g, '_')}_${compact(from)}_${compact(to)}${step ? `_${step / 1000}s_${q.agg}` : ''}.${q.format}"`,
      )
      c.header('Cache-Control', 'no-store')
      return streamed(c, deps, async (write, stopped) => {
        await write(out.start)
        if (step) {
          const kind = await kindOf(db, q.name)
          for await (const rows of aggregatedGroups(db, found, { from, to, step, agg: q.agg, by, kind })) {
            if (stopped()) return
            await write(out.rows(rows))
          }
        } else {
          const labelsOf = new Map(found.map((s) => [s.id, s.labels]))
          const scaleOf = new Map(found.map((s) => [s.id, s.scale]))
          for await (const page of rawPages(
            db,
            found.map((s) => s.id),
            from,
            to,
          )) {
            if (stopped()) return
            await write(
              out.rows(
                page.map(
                  (p): ExportRow => ({
                    t: p.ts,
                    labels: labelsOf.get(p.seriesId)!,
                    value: p.value * scaleOf.get(p.seriesId)!,
                  }),
                ),
              ),
            )
          }
        }
        await write(out.end())
      })
    },
  )

  return app
}
