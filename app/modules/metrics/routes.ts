import { and, desc, inArray, lt, or, sql } from 'drizzle-orm'
import { Hono, type Context } from 'hono'
import * as v from 'valibot'
import { series } from '../../../db/schema/metrics.ts'
import type { AppEnv, ModuleDeps } from '../../context.ts'
import { access } from '../../middleware/access.ts'
import { AppError, badRequest } from '../../lib/errors.ts'
import { page } from '../../lib/pagination.ts'
import { describe, withMeta } from '../../lib/route-meta.ts'
import { TimeInput, toIso } from '../../lib/time.ts'
import { issuesToDetails, validate } from '../../lib/validate.ts'
import { storedNames } from './names.ts'
import { parsePrometheusText } from './prom-text.ts'
import { aggregations, runQuery } from './query.ts'
import {
  batchBody,
  Duration,
  ingestBody,
  MetricName,
  plainPoints,
  Point,
  SeriesQuery,
  type PointInput,
} from './schema.ts'
import { remoteWriteHandler } from './remote-write-handler.ts'
import type { Kind } from './kinds.ts'
import type { MetricStore, Sample } from './store.ts'

const MAX_FUTURE_MS = 10 * 60_000
const MAX_QUERY_POINTS = 11_000

/**
 * About 300 steps over the range, in whole minutes; in whole hours from half an hour and whole days
 * from a day, so a week or a month is read from the hourly or daily rollups (a 30-day range at 2.4 h
 * steps would read every minute rollup: only a resolution that divides the step serves it).
 */
export function defaultQueryStep(spanMs: number) {
  const raw = spanMs / 300
  const unit = raw >= 86_400_000 ? 86_400_000 : raw >= 1_800_000 ? 3_600_000 : 60_000
  return Math.max(60_000, Math.ceil(raw / unit) * unit)
}

function fromJson(body: unknown, batchSchema: ReturnType<typeof batchBody>, maxBatch: number, now: number): Sample[] {
  const isBatch = typeof body === 'object' && body !== null && !Array.isArray(body) && 'points' in body
  let list = plainPoints(body, maxBatch)
  if (!list) {
    const result = v.safeParse(isBatch ? batchSchema : Point, body)
    if (!result.success)
      throw badRequest(
        isBatch ? 'Invalid batch; nothing was written' : 'Invalid point; nothing was written',
        issuesToDetails(result.issues),
      )
    list = 'points' in result.output ? result.output.points : [result.output as PointInput]
  }
  // One pass, no per-point arrays: this runs for every point of every batch.
  const samples = new Array<Sample>(list.length)
  let future: { field: string; message: string }[] | undefined
  for (let i = 0; i < list.length; i++) {
    const p = list[i]!
    if (p.ts !== undefined && p.ts > now + MAX_FUTURE_MS)
      (future ??= []).push({
        field: isBatch ? `points.${i}.ts` : 'ts',
        message: 'is more than 10 minutes in the future',
      })
    samples[i] = { name: p.name, labels: p.labels ?? {}, value: p.value, ts: p.ts ?? now }
  }
  if (future) throw badRequest('Invalid batch; nothing was written', future)
  return samples
}

function fromText(text: string, now: number) {
  const { samples, errors, types } = parsePrometheusText(text)
  if (errors.length)
    throw badRequest(
      'Invalid Prometheus text; nothing was written',
      errors.slice(0, 100).map((e) => ({ field: `line ${e.line}`, message: e.message })),
    )
  const future = samples.findIndex((s) => s.ts !== undefined && s.ts > now + MAX_FUTURE_MS)
  if (future >= 0)
    throw badRequest('Invalid Prometheus text; nothing was written', [
      { field: 'timestamp', message: 'a sample is more than 10 minutes in the future' },
    ])
  const finite = samples.filter((s) => Number.isFinite(s.value))
  const kinds = new Map<string, Kind>()
  for (const s of finite) {
    const kind = types.get(s.name)
    if (kind) kinds.set(s.name, kind)
  }
  return {
    samples: finite.map((s) => ({ name: s.name, labels: s.labels, value: s.value, ts: s.ts ?? now })),
    dropped: samples.length - finite.length,
    kinds,
  }
}

const QueryParams = v.object({
  name: MetricName,
  from: v.optional(TimeInput),
  to: v.optional(TimeInput),
  step: v.optional(Duration),
  agg: v.optional(v.picklist(aggregations, `must be one of ${aggregations.join(', ')}`), 'avg'),
  by: v.optional(
    v.pipe(
      v.string(),
      v.regex(/^([a-zA-Z_][a-zA-Z0-9_]*)(,[a-zA-Z_][a-zA-Z0-9_]*)*$/, 'must be label names separated by commas'),
    ),
  ),
})

/** `match[agent]=planner` query parameters as a label map. */
export function matchers(c: Context) {
  const match: Record<string, string> = {}
  for (const [k, value] of new URL(c.req.url).searchParams) {
    const m = /^match\[([a-zA-Z_][a-zA-Z0-9_]*)\]$/.exec(k)
    if (m) match[m[1]!] = value
    else if (k.startsWith('match'))
      throw badRequest('Invalid query', [{ field: k, message: 'must be match[<label name>]' }])
  }
  return match
}

/** `metricStore` is the one store the composition root built (prices derive cost, rules watch writes). */
export function metricsRoutes(deps: ModuleDeps & { metricStore: MetricStore }) {
  const { db, config, metricStore: store } = deps
  const app = new Hono<AppEnv>()
  const tags = ['metrics']
  const batchSchema = batchBody(config.METRICS_MAX_BATCH)
  // The handler reads JSON or text itself; this only tells the OpenAPI document the JSON shape.
  const documentsBody = withMeta(async (_c: Context, next: () => Promise<void>) => next(), {
    inputs: [{ target: 'json', schema: ingestBody(config.METRICS_MAX_BATCH) }],
  })

  app.post(
    '/api/v1/metrics',
    access('ingest'),
    describe('Ingest points: JSON {name,value,labels?,ts?} or {points:[…]}, or Prometheus text (text/plain)', tags),
    documentsBody,
    async (c) => {
      const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase()
      const now = Date.now()
      if (type === 'text/plain' || type === 'application/openmetrics-text') {
        const { samples, dropped, kinds } = fromText(await c.req.text(), now)
        const r = await store.write(samples, now)
        await store.declareKinds(kinds, 'prometheus_text', now) // `# TYPE` lines: what rate functions need
        return c.json({ ...r, dropped })
      }
      if (type !== 'application/json')
        throw new AppError(415, 'unsupported_media_type', 'Content-Type must be application/json or text/plain', [
          { field: 'Content-Type', message: type || 'missing' },
        ])
      let body: unknown
      try {
        body = await c.req.json()
      } catch {
        throw new AppError(400, 'invalid_json', 'The body is not valid JSON', [
          { field: '(body)', message: 'could not be parsed' },
        ])
      }
      return c.json({
        ...(await store.write(fromJson(body, batchSchema, config.METRICS_MAX_BATCH, now), now)),
        dropped: 0,
      })
    },
  )

  app.post(
    '/api/v1/write',
    access('ingest'),
    describe(
      'Prometheus remote write 1.0: snappy-compressed protobuf WriteRequest (application/x-protobuf); 204 when stored',
      tags,
      204,
    ),
    remoteWriteHandler(store, deps),
  )

  app.get(
    '/api/v1/metrics/series',
    access('viewer'),
    describe('Find series by name or label value: counts per name and last seen', tags),
    validate('query', SeriesQuery),
    async (c) => {
      const q = c.req.valid('query')
      const limit = q.limit ?? 100
      const term = q.search ? `%${q.search.replace(/[%_\\]/g, (ch) => `\\${ch}`)}%` : undefined
      const where = and(
        // A renamed metric's either name lists the series stored under both, each under its stored name
        // (names.ts): the explorer's suggestions for an old name come from the series written since.
        q.name
          ? inArray(
              series.name,
              storedNames(q.name).map((n) => n.name),
            )
          : undefined,
        term
          ? or(sql`${series.name} like ${term} escape '\\'`, sql`${series.labels} like ${term} escape '\\'`)
          : undefined,
      )
      const [rows, names] = await Promise.all([
        db
          .select()
          .from(series)
          .where(and(where, q.cursor ? lt(series.id, Number(q.cursor)) : undefined))
          .orderBy(desc(series.id))
          .limit(limit + 1),
        db
          .select({
            name: series.name,
            series: sql<number>`count(*)`,
            lastSeenAt: sql<number>`max(${series.lastSeenAt})`,
          })
          .from(series)
          .where(where)
          .groupBy(series.name)
          .orderBy(series.name)
          .limit(500),
      ])
      const { items, next } = page(rows, limit, (r) => r.id)
      return c.json({
        names: names.map((n) => ({ ...n, lastSeenAt: toIso(n.lastSeenAt) })),
        items: items.map((s) => ({
          id: s.id,
          name: s.name,
          labels: s.labels,
          createdAt: toIso(s.createdAt),
          lastSeenAt: toIso(s.lastSeenAt),
        })),
        next,
      })
    },
  )

  app.get(
    '/api/v1/metrics/query',
    access('viewer'),
    describe(
      'Query a metric: match[label]=, from, to, step, agg, by; reads the coarsest rollup that serves the step',
      tags,
    ),
    validate('query', QueryParams),
    async (c) => {
      const q = c.req.valid('query')
      const to = q.to ?? Date.now()
      const from = q.from ?? to - 3_600_000
      const step = q.step ?? defaultQueryStep(to - from)
      const problems = [
        ...(from >= to ? [{ field: 'from', message: 'must be before to' }] : []),
        ...(step < 1000 ? [{ field: 'step', message: 'must be at least 1s' }] : []),
        ...((to - from) / step > MAX_QUERY_POINTS
          ? [{ field: 'step', message: `gives more than ${MAX_QUERY_POINTS} points; use a larger step` }]
          : []),
      ]
      if (problems.length) throw badRequest('Invalid query', problems)
      const aligned = from - (from % step)
      const result = await runQuery(db, {
        name: q.name,
        match: matchers(c),
        from: aligned,
        to,
        step,
        agg: q.agg,
        by: q.by ? q.by.split(',') : [],
      })
      return c.json({
        name: q.name,
        agg: q.agg,
        step,
        from: toIso(aligned),
        to: toIso(to),
        resolution: result.resolution
          ? `${result.resolution === 60 ? '1m' : result.resolution === 3600 ? '1h' : '1d'}`
          : 'raw',
        // counter, delta or gauge when known (docs/metrics.md#counters-deltas-and-gauges): what `rate` took it for.
        kind: result.kind,
        series: result.series.map((s) => ({
          labels: s.labels,
          series: s.series,
          values: s.values.map(([t, value]) => [toIso(t), value]),
        })),
      })
    },
  )

  return app
}
