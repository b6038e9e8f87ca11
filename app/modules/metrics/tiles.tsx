/** @jsxImportSource hono/jsx */
/**
 * The front page's agents and models tile, from the LLM and agent metrics (docs/metrics.md#metric-names-for-agent-systems,
 * and the OTLP GenAI mapping onto them): per model and per agent (`component`, which the GenAI
 * mapping fills from `gen_ai.agent.name`) the requests, error ratio, p95 latency, tokens and cost
 * over the range, and the top movers against the previous period. A handful of aggregates over the
 * `llm_*`/`agent_*` series only (rollups where they exist), whatever else the store holds, which the
 * front-summaries job runs in the background: the page reads its stored result.
 */
import type { Db } from '../../../db/client.ts'
import { qty, rate, ms, usd } from '../../lib/format.ts'
import { AsOf, change, Delta, type FrontTile, TileEmpty } from '../../lib/tiles.tsx'
import { plan, quantileByLabel, type Segment, sumsByLabel, watermarks } from './by-label.ts'

const SUMMED = ['llm_errors_total', 'llm_tokens_total', 'llm_cost_usd', 'agent_requests_total', 'agent_errors_total']
const PREVIOUS = ['agent_requests_total', 'llm_cost_usd']
const ROWS = 8
const MOVERS = 3
/** Bumped whenever AgentsAndModels changes shape: stored summaries of another version are computed again. */
const AGENTS_SUMMARY_VERSION = 1

type Row = {
  name: string
  requests: number
  errors: number
  errorRatio: number | null
  p95: number | null
  tokens: number | null
  cost: number | null
  change: { requests: number | null; cost: number | null }
}

type Pause = () => Promise<void>
const noPause: Pause = async () => {}

/** Requests: the agent's own counters when it sends them, else its LLM calls (one latency value per call). */
async function totals(db: Db, label: string, segs: Segment[], pause: Pause, metrics = SUMMED) {
  // One metric a statement with a pause between, so the job holds the event loop for one metric's
  // series at a time (statements run one after another on the one connection anyway).
  const sums = new Map<string, Map<string | null, number>>()
  for (const metric of metrics) {
    await pause()
    for (const [k, m] of await sumsByLabel(db, [metric], segs, label)) sums.set(k, m)
  }
  await pause()
  const calls = await sumsByLabel(db, ['llm_latency_ms'], segs, label, 'count')
  const names = new Set<string>()
  for (const m of [...sums.values(), calls.get('llm_latency_ms')!])
    for (const k of m.keys()) if (k !== null) names.add(k)
  const get = (metric: string, name: string) => sums.get(metric)?.get(name)
  return new Map(
    [...names].map((name) => {
      const agentReq = get('agent_requests_total', name)
      const requests = agentReq ?? calls.get('llm_latency_ms')!.get(name) ?? 0
      const errors = (agentReq !== undefined ? get('agent_errors_total', name) : get('llm_errors_total', name)) ?? 0
      return [
        name,
        {
          requests,
          errors,
          p95: null as number | null,
          tokens: get('llm_tokens_total', name) ?? null,
          cost: get('llm_cost_usd', name) ?? null,
        },
      ]
    }),
  )
}

async function table(db: Db, label: string, cur: Segment[], prev: Segment[], pause: Pause): Promise<Row[]> {
  // The previous period gives only the changes in requests and cost.
  const now = await totals(db, label, cur, pause)
  const before = await totals(db, label, prev, pause, PREVIOUS)
  return [...now].map(([name, t]) => {
    const p = before.get(name)
    return {
      name,
      ...t,
      errorRatio: t.requests ? t.errors / t.requests : null,
      change: { requests: change(t.requests, p?.requests), cost: change(t.cost, p?.cost) },
    }
  })
}

/**
 * The tile's data: rows by model and by agent, most expensive first, and the biggest changes in
 * requests. The same for every role that may read the tile, so the front-summaries job stores it
 * once per range; `pause` runs between its statements.
 */
export async function agentsAndModels(db: Db, from: number, to: number, pause = noPause) {
  const marks = await watermarks(db)
  const cur = plan(from, to, marks)
  const prev = plan(from - (to - from), from, marks)
  const models = await table(db, 'model', cur, prev, pause)
  const agents = await table(db, 'component', cur, prev, pause)
  const byCost = (a: Row, b: Row) =>
    (b.cost ?? 0) - (a.cost ?? 0) || b.requests - a.requests || a.name.localeCompare(b.name)
  const movers = [...models.map((r) => ({ kind: 'model', ...r })), ...agents.map((r) => ({ kind: 'agent', ...r }))]
    .filter((r) => r.change.requests !== null && Math.abs(r.change.requests) >= 0.1)
    .sort((a, b) => Math.abs(b.change.requests!) - Math.abs(a.change.requests!) || a.name.localeCompare(b.name))
    .slice(0, MOVERS)
    // A mover shows its name and change in requests only (p95 is read for the tables' shown rows alone).
    .map(({ kind, name, change }) => ({ kind, name, change }))
  const shown = { model: models.sort(byCost).slice(0, ROWS), component: agents.sort(byCost).slice(0, ROWS) }
  // The p95 of the rows shown only: a quantile merges every sketch it reads, so it reads no more.
  for (const [label, rows] of Object.entries(shown)) {
    await pause()
    const p95 = await quantileByLabel(
      db,
      'llm_latency_ms',
      0.95,
      cur,
      label,
      rows.map((r) => r.name),
    )
    for (const r of rows) r.p95 = p95.get(r.name) ?? null
  }
  return {
    models: shown.model,
    agents: shown.component,
    counts: { models: models.length, agents: agents.length },
    movers,
  }
}
export type AgentsAndModels = Awaited<ReturnType<typeof agentsAndModels>>

function Table({ rows, first, caption }: { rows: Row[]; first: string; caption: string }) {
  return (
    <table class="table compact">
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">{first}</th>
          <th scope="col">Requests</th>
          <th scope="col">Errors</th>
          <th scope="col">p95</th>
          <th scope="col">Tokens</th>
          <th scope="col">Cost</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr data-row={r.name}>
            <th scope="row">{r.name}</th>
            <td>
              {qty(r.requests)} <Delta value={r.change.requests} better="none" />
            </td>
            <td>{rate(r.errorRatio)}</td>
            <td>{ms(r.p95)}</td>
            <td>{qty(r.tokens)}</td>
            <td>
              {usd(r.cost)} <Delta value={r.change.cost} better="none" />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

export function AgentsView({ data }: { data: AgentsAndModels }) {
  if (!data.models.length && !data.agents.length)
    return (
      <TileEmpty doc="opentelemetry">
        No LLM or agent metrics in this range: send <code>llm_*</code>/<code>agent_*</code> points, or OpenTelemetry
        GenAI metrics or traces.
      </TileEmpty>
    )
  return (
    <>
      {data.movers.length ? (
        <p class="movers">
          Top movers:{' '}
          {data.movers.map((m, i) => (
            <span data-mover={m.name}>
              {i ? ' · ' : ''}
              {m.kind} <strong>{m.name}</strong> requests <Delta value={m.change.requests} better="none" />
            </span>
          ))}
        </p>
      ) : null}
      <div class="split">
        {data.models.length ? (
          <div class="scroll">
            <Table rows={data.models} first="Model" caption={`By model (${data.counts.models})`} />
          </div>
        ) : null}
        {data.agents.length ? (
          <div class="scroll">
            <Table rows={data.agents} first="Agent" caption={`By agent (${data.counts.agents})`} />
          </div>
        ) : null}
      </div>
      <p class="muted">
        <a href="/explore?name=llm_latency_ms&agg=p95&by=model">Explore the LLM metrics</a>
      </p>
    </>
  )
}

/** The tiles this module puts on the front page (listed by the composition root). */
export function metricsTiles({ db }: { db: Db }): FrontTile[] {
  return [
    {
      id: 'agents-models',
      section: 'agents',
      order: 10,
      title: 'Agents and models',
      access: 'viewer',
      topic: 'metrics',
      // The stored JSON is this version's AgentsAndModels (readSummaries leaves other versions out).
      render: async ({ range, summary }) => (
        <>
          <AgentsView
            data={summary ? (summary.data as AgentsAndModels) : await agentsAndModels(db, range.from, range.to)}
          />
          {summary ? <AsOf summary={summary} /> : null}
        </>
      ),
      summary: {
        version: AGENTS_SUMMARY_VERSION,
        compute: (range, pause) => agentsAndModels(db, range.from, range.to, pause),
      },
    },
  ]
}
