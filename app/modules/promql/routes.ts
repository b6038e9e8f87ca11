/**
 * Prometheus' HTTP query API (https://prometheus.io/docs/prometheus/latest/querying/api/), so that
 * Grafana's Prometheus data source and promtool read Homeostat's metrics. Answers and errors keep
 * Prometheus' envelope (`{"status":"success","data":…}`, `{"status":"error","errorType","error"}`),
 * not the app's error shape, because those clients parse only theirs.
 */
import { type Context, Hono } from 'hono'
import * as v from 'valibot'
import type { AppEnv, ModuleDeps } from '../../context.ts'
import { describe } from '../../lib/route-meta.ts'
import { validate } from '../../lib/validate.ts'
import { access } from '../../middleware/access.ts'
import { badData, type Expr, parsePromql, PromError } from './ast.ts'
import { evaluate } from './eval.ts'
import { type Kind, kindsOf, RENAMED, storedNames } from '../metrics/index.ts'
import { dbSource, matchSeries } from './source.ts'
import { labelsKey, type Value } from './values.ts'
import { formatValue, parseTime, readParams, stepOf } from './params.ts'

const MAX_POINTS = 11_000 // per series, as Prometheus refuses

const QueryParams = v.object({ query: v.string(), time: v.optional(v.string()) })
const RangeParams = v.object({ query: v.string(), start: v.string(), end: v.string(), step: v.string() })
const MatchParams = v.object({ start: v.optional(v.string()), end: v.optional(v.string()) })
const LabelParam = v.object({ name: v.string() })
const MetadataParams = v.object({ metric: v.optional(v.string()), limit: v.optional(v.string()) })

const ok = (c: Context, data: unknown) => c.json({ status: 'success', data })

async function prom(c: Context<AppEnv>, run: () => Promise<Response>) {
  try {
    return await run()
  } catch (e) {
    if (!(e instanceof PromError)) throw e
    return c.json({ status: 'error', errorType: e.errorType, error: e.message }, e.errorType === 'bad_data' ? 400 : 422)
  }
}

const parse = (q: string): Expr => parsePromql(q)

function selectorOf(text: string) {
  const e = parse(text)
  if (e.kind !== 'selector' || e.range !== undefined || e.offset)
    throw badData(`invalid parameter "match[]": "${text}" is not a series selector`)
  return e.matchers
}

export function promqlRoutes(deps: ModuleDeps) {
  const { db } = deps
  const app = new Hono<AppEnv>()
  const tags = ['prometheus']
  const source = dbSource(db)

  /**
   * The series that any of the `match[]` selectors pick (all series with none). `start` drops series
   * not written since; `end` is not applied: a series keeps its write times, not its data's, so a
   * backfilled series would wrongly fall out (the answer is a superset, which Prometheus allows).
   */
  async function seriesFor(params: URLSearchParams) {
    const q = readParams(params, MatchParams)
    const start = q.start ? parseTime(q.start, 'start') : -Infinity
    if (q.end) parseTime(q.end, 'end')
    const selectors = params.getAll('match[]')
    const lists = selectors.length
      ? await Promise.all(selectors.map((m) => matchSeries(db, selectorOf(m))))
      : [await matchSeries(db, [])]
    const byId = new Map(lists.flat().map((s) => [s.id, s]))
    return [...byId.values()].filter((s) => s.lastSeenAt >= start)
  }

  const both = (
    path: string,
    summary: string,
    handler: (c: Context<AppEnv>, p: URLSearchParams) => Promise<Response>,
  ) => {
    for (const method of ['get', 'post'] as const)
      app[method](path, access('viewer'), describe(summary, tags), (c) =>
        prom(c, async () => handler(c, await formParams(c))),
      )
  }

  both(
    '/api/v1/query',
    'PromQL instant query (Prometheus API; the supported subset is in docs/grafana.md)',
    async (c, p) => {
      const q = readParams(p, QueryParams)
      const t = q.time ? parseTime(q.time, 'time') : Date.now()
      const expr = parse(q.query)
      const value = await evaluate(expr, [t], source)
      return ok(c, instantResult(value, t))
    },
  )

  both('/api/v1/query_range', 'PromQL range query (Prometheus API)', async (c, p) => {
    const q = readParams(p, RangeParams)
    const start = parseTime(q.start, 'start')
    const end = parseTime(q.end, 'end')
    const step = stepOf(q.step)
    if (end < start) throw badData('invalid parameter "end": end timestamp must not be before start time')
    if ((end - start) / step > MAX_POINTS)
      throw badData(
        `exceeded maximum resolution of ${MAX_POINTS} points per timeseries. Try decreasing the query resolution (?step=XX)`,
      )
    const expr = parse(q.query)
    const steps: number[] = []
    for (let t = start; t <= end; t += step) steps.push(t)
    const value = await evaluate(expr, steps, source)
    return ok(c, rangeResult(value, steps))
  })

  both('/api/v1/labels', 'Label names (Prometheus API)', async (c, p) => {
    const names = new Set<string>()
    for (const s of await seriesFor(p)) for (const k of Object.keys(s.labels)) names.add(k)
    return ok(c, [...names].sort())
  })

  app.get(
    '/api/v1/label/:name/values',
    access('viewer'),
    describe('Values of one label (Prometheus API)', tags),
    // Any string passes here; the handler names a bad label name in Prometheus' error shape.
    validate('param', LabelParam),
    (c) =>
      prom(c, async () => {
        const name = c.req.param('name')
        if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name)) throw badData(`invalid label name: "${name}"`)
        const values = new Set<string>()
        for (const s of await seriesFor(new URL(c.req.url).searchParams)) {
          const v = s.labels[name]
          if (v) values.add(v)
        }
        return ok(c, [...values].sort())
      }),
  )

  both('/api/v1/series', 'Series matching match[] selectors (Prometheus API)', async (c, p) => {
    if (!p.getAll('match[]').length) throw badData('no match[] parameter provided')
    // A renamed metric's labels stored under both its names are one series when read under one name
    // (as a query merges them into one label set): listed once, as Prometheus lists a series.
    const unique = new Map((await seriesFor(p)).map((s) => [labelsKey(s.labels), s.labels]))
    return ok(c, [...unique.values()])
  })

  app.get('/api/v1/metadata', access('viewer'), describe('Metric metadata (Prometheus API): type by name', tags), (c) =>
    prom(c, async () => {
      const q = readParams(new URL(c.req.url).searchParams, MetadataParams)
      const limit = q.limit === undefined ? Infinity : Number(q.limit)
      if (!Number.isInteger(limit) && limit !== Infinity) throw badData('invalid parameter "limit": must be an integer')
      const stored = new Set((await matchSeries(db, [])).map((s) => s.name))
      // Asked for by name, a renamed metric's old name answers while either of its names is stored (the
      // read alias); the full list has the stored names only, as `__name__` values (docs/grafana.md).
      const names = q.metric
        ? storedNames(q.metric).some((n) => stored.has(n.name))
          ? [q.metric]
          : []
        : [...stored].sort()
      const kinds = await kindsOf(db, names)
      const data: Record<string, { type: string; help: string; unit: string }[]> = {}
      for (const n of names) {
        if (limit >= 0 && Object.keys(data).length >= limit) break
        const kind = kinds.get(n)
        const help = [deprecation(n), kind === 'delta' ? DELTA_HELP : ''].filter(Boolean).join('; ')
        data[n] = [{ type: metricType(n, kind), help, unit: unitOf(n) }]
      }
      return ok(c, data)
    }),
  )

  app.get('/api/v1/status/buildinfo', access('viewer'), describe('Build information (Prometheus API)', tags), (c) =>
    ok(c, {
      // Grafana reads the version to pick the API features it uses; these are Prometheus 2.42's shapes.
      version: '2.42.0',
      revision: 'homeostat',
      branch: 'homeostat',
      buildUser: 'homeostat',
      buildDate: '20260101-00:00:00',
      goVersion: 'none',
    }),
  )

  return app
}

/** The query string, and for POST the form body as well (Prometheus reads both). */
async function formParams(c: Context<AppEnv>) {
  const params = new URLSearchParams(new URL(c.req.url).search)
  if (c.req.method === 'POST') {
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase()
    if (type && type !== 'application/x-www-form-urlencoded')
      throw badData(`unsupported Content-Type "${type}": send application/x-www-form-urlencoded`)
    for (const [k, val] of new URLSearchParams(await c.req.text())) params.append(k, val)
  }
  return params
}

/**
 * A name's type in Prometheus' vocabulary: its kind when known (metrics kinds.ts; a delta series is
 * reported as `unknown`, the OpenMetrics type for what is neither a counter nor a gauge, since
 * Prometheus has no delta type), else guessed from the suffix as before.
 */
const metricType = (name: string, kind: Kind | undefined) =>
  kind === 'delta'
    ? 'unknown'
    : (kind ?? (name.endsWith('_total') ? 'counter' : name.endsWith('_bucket') ? 'histogram' : 'gauge'))

/** `Deprecated: renamed <new name>` for an old name (and the factor when the unit changed), else ''. */
function deprecation(name: string) {
  const renamed = RENAMED.find((r) => r.old === name)
  if (!renamed) return ''
  return `Deprecated: renamed ${renamed.name}${renamed.scale === 1 ? '' : ` (× ${renamed.scale})`}`
}

const DELTA_HELP = 'delta: each point is the increase of its own interval; rate() and increase() sum them'

/** The base unit a name ends in (OpenMetrics' unit suffixes), or ''. */
const unitOf = (name: string) =>
  /_(seconds|bytes|ratio|celsius|meters|volts|amperes|joules|grams)(_total|_count|_sum|_bucket)?$/.exec(name)?.[1] ?? ''

function instantResult(v: Value, t: number) {
  if (v.type === 'scalar') return { resultType: 'scalar', result: [t / 1000, formatValue(v.values[0]!)] }
  return {
    resultType: 'vector',
    result: v.series
      .filter((s) => s.values[0] !== undefined)
      .map((s) => ({ metric: s.labels, value: [t / 1000, formatValue(s.values[0]!)] })),
  }
}

function rangeResult(v: Value, steps: number[]) {
  const series = v.type === 'scalar' ? [{ labels: {}, values: v.values as (number | undefined)[] }] : v.series
  return {
    resultType: 'matrix',
    result: series
      .map((s) => ({
        metric: s.labels,
        values: steps.flatMap((t, i) => (s.values[i] === undefined ? [] : [[t / 1000, formatValue(s.values[i]!)]])),
      }))
      .filter((s) => s.values.length)
      .sort((a, b) => (labelsKey(a.metric) < labelsKey(b.metric) ? -1 : 1)),
  }
}
