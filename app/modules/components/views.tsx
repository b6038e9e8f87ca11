/** @jsxImportSource hono/jsx */
import { componentKinds, httpMethods, type Component, type StatusRow } from '../../../db/schema/components.ts'
import { ms, pct, qty, rate, usd } from '../../lib/format.ts'
import { liveTrigger, when } from '../../lib/layout.tsx'
import type { Overview } from './overview.ts'
import { DEFAULTS } from './service.ts'

export { ms, pct, qty, rate, usd }

export const StatusPill = ({ state }: { state: string }) => (
  <span class={`pill ${state}`}>{state === 'up' ? 'Up' : state === 'down' ? 'Down' : 'Unknown'}</span>
)

/**
 * The overview tiles: refreshed when a component goes up or down, or new metrics arrive (at most
 * every 10 s), and every 60 s besides (the fragment replaces itself).
 */
export function OverviewTiles({ data, range }: { data: Overview; range: string }) {
  return (
    <section
      id="component-tiles"
      hx-get={`/overview/components?range=${range}`}
      hx-trigger={`${liveTrigger('components')}, ${liveTrigger('metrics', { throttle: '10s', every: '60s' })}`}
      hx-swap="outerHTML"
      aria-label="Components"
    >
      <div class="tiles">
        <div class="tile">
          <span class="label">Cost ({data.range})</span>
          <strong data-total="cost">{usd(data.totals.costUsd)}</strong>
        </div>
        <div class="tile">
          <span class="label">Tokens ({data.range})</span>
          <strong data-total="tokens">{qty(data.totals.tokens)}</strong>
        </div>
        <div class={`tile ${data.totals.down ? 'bad' : data.totals.up ? 'ok' : ''}`}>
          <span class="label">Components</span>
          <strong>
            {data.totals.up} up · {data.totals.down} down
          </strong>
          <span class="muted">
            {data.totals.unknown ? `${data.totals.unknown} not checked yet` : `${data.totals.components} in all`}
          </span>
        </div>
      </div>
      {data.components.length === 0 ? (
        <p class="empty">
          No components yet. <a href="/new/component">Add one</a> with an HTTP check or a push heartbeat, and its
          health, uptime, p95 latency, error rate and cost will show here.
        </p>
      ) : (
        <div class="tiles comp-tiles">
          {data.components.map((c) => (
            <a
              class={`tile link-tile comp ${c.status === 'up' ? 'ok' : c.status === 'down' ? 'bad' : ''}`}
              href={`/components/${c.id}`}
              data-component={c.name}
            >
              <span class="comp-head">
                <strong class="comp-name">{c.name}</strong> <StatusPill state={c.status} />
              </span>
              <span class="muted">
                {c.kind}
                {c.message && c.status === 'down' ? ` · ${c.message}` : ''}
              </span>
              <dl class="facts">
                <dt>Uptime</dt>
                <dd>{pct(c.uptime)}</dd>
                <dt>p95</dt>
                <dd>{ms(c.p95LatencyMs)}</dd>
                <dt>Errors</dt>
                <dd>{rate(c.errorRate)}</dd>
                <dt>Cost</dt>
                <dd>{usd(c.costUsd)}</dd>
              </dl>
            </a>
          ))}
        </div>
      )}
    </section>
  )
}

/** Results as a strip of cells, oldest left: green up, red down, amber for a missed heartbeat. */
export function StatusStrip({ rows }: { rows: StatusRow[] }) {
  if (!rows.length)
    return (
      <p class="empty">
        No results yet: the first check runs within 10 seconds, a push component waits for its first heartbeat.
      </p>
    )
  const list = [...rows].reverse()
  const w = 8
  return (
    <svg
      class="strip"
      viewBox={`0 0 ${list.length * w} 24`}
      width={list.length * w}
      height="24"
      role="img"
      aria-label={`Last ${list.length} results: ${list.filter((r) => r.up).length} up, ${list.filter((r) => !r.up).length} down`}
    >
      {list.map((r, i) => (
        <rect
          x={i * w}
          y="0"
          width={w - 2}
          height="24"
          rx="1.5"
          class={r.up ? 'up' : r.source === 'missed' ? 'missed' : 'down'}
        >
          <title>{`${when(r.ts)}: ${r.up ? 'up' : 'down'}${r.code ? ` ${r.code}` : ''}${r.latencyMs !== null ? ` ${ms(r.latencyMs)}` : ''}${r.message ? ` — ${r.message}` : ''}`}</title>
        </rect>
      ))}
    </svg>
  )
}

/** Latency of the recent results as an inline SVG line, drawn on the server. */
export function Sparkline({ rows, width = 600, height = 80 }: { rows: StatusRow[]; width?: number; height?: number }) {
  const pts = rows.filter((r) => r.latencyMs !== null).reverse()
  if (pts.length < 2) return <p class="muted">Not enough latency readings for a chart yet.</p>
  const values = pts.map((r) => r.latencyMs!)
  const min = Math.min(...values)
  const max = Math.max(...values)
  const t0 = pts[0]!.ts
  const span = Math.max(1, pts.at(-1)!.ts - t0)
  const pad = 4
  const x = (ts: number) => pad + ((ts - t0) / span) * (width - 2 * pad)
  const y = (v: number) => height - pad - (max === min ? 0.5 : (v - min) / (max - min)) * (height - 2 * pad)
  const line = pts.map((r) => `${x(r.ts).toFixed(1)},${y(r.latencyMs!).toFixed(1)}`).join(' ')
  const area = `${pad},${height - pad} ${line} ${(width - pad).toFixed(1)},${height - pad}`
  return (
    <figure class="spark">
      <svg
        viewBox={`0 0 ${width} ${height}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`Latency of the last ${pts.length} results: min ${ms(min)}, max ${ms(max)}, latest ${ms(values.at(-1))}`}
      >
        <polygon points={area} class="area" />
        <polyline points={line} class="line" fill="none" />
      </svg>
      <figcaption class="muted">
        {when(t0)} → {when(pts.at(-1)!.ts)} · min {ms(min)} · max {ms(max)} · latest {ms(values.at(-1))}
      </figcaption>
    </figure>
  )
}

/** The create/edit form for a component and its check; errors come back into #flash. */
export function ComponentFormView({ c, action }: { c?: Component; action: string }) {
  const isPush = c?.checkType === 'push'
  const labels = Object.entries(c?.labels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')
  return (
    <form class="stack card comp-form" hx-post={action} hx-swap="none" novalidate>
      <label>
        Name <input name="name" required maxlength={100} value={c?.name ?? ''} placeholder="planner-agent" />
      </label>
      <label>
        Kind
        <select name="kind">
          {componentKinds.map((k) => (
            <option value={k} selected={c?.kind === k}>
              {k.replace('_', ' ')}
            </option>
          ))}
        </select>
      </label>
      <label>
        Description <input name="description" maxlength={2000} value={c?.description ?? ''} />
      </label>
      <label>
        Labels{' '}
        <textarea name="labels" rows={2} placeholder={'team=search\nenv=prod'}>
          {labels}
        </textarea>
      </label>
      <fieldset class="check-choice">
        <legend>Check</legend>
        <label class="check">
          <input type="radio" name="check" value="http" id="check-http" checked={!isPush} /> HTTP check (Homeostat calls
          a URL)
        </label>
        <label class="check">
          <input type="radio" name="check" value="push" id="check-push" checked={isPush} /> Push heartbeat (the
          component calls Homeostat)
        </label>
      </fieldset>
      <div class="http-only stack">
        <label>
          URL <input name="url" type="url" value={c?.url ?? ''} placeholder="https://agent.example.com/health" />
        </label>
        <label>
          Method{' '}
          <select name="method">
            {httpMethods.map((m) => (
              <option selected={(c?.method ?? 'GET') === m}>{m}</option>
            ))}
          </select>
        </label>
        <label>
          Interval (seconds, at least 10){' '}
          <input
            name="intervalSeconds"
            inputmode="numeric"
            value={String(c?.intervalSeconds ?? DEFAULTS.intervalSeconds)}
          />
        </label>
        <label>
          Timeout (ms) <input name="timeoutMs" inputmode="numeric" value={String(c?.timeoutMs ?? DEFAULTS.timeoutMs)} />
        </label>
        <label>
          Expected status{' '}
          <input
            name="expectedStatus"
            value={(c?.expectedStatus ?? DEFAULTS.expectedStatus).join(', ')}
            placeholder="200-399"
          />
        </label>
        <label>
          Expected body text (optional){' '}
          <input name="expectedBodyText" value={c?.expectedBodyText ?? ''} placeholder='"status":"ok"' />
        </label>
      </div>
      <div class="push-only stack">
        <label>
          Expected interval (seconds){' '}
          <input name="expectedIntervalSeconds" inputmode="numeric" value={String(c?.expectedIntervalSeconds ?? 60)} />
        </label>
        <label>
          Grace (seconds){' '}
          <input name="graceSeconds" inputmode="numeric" value={String(c?.graceSeconds ?? DEFAULTS.graceSeconds)} />
        </label>
      </div>
      <button type="submit">{c ? 'Save changes' : 'Create component'}</button>
    </form>
  )
}

export function HistoryTable({ rows }: { rows: StatusRow[] }) {
  return (
    <table class="table">
      <thead>
        <tr>
          <th>When</th>
          <th>Status</th>
          <th>Source</th>
          <th>Code</th>
          <th>Latency</th>
          <th>Message</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr>
            <td class="nowrap">{when(r.ts)}</td>
            <td>
              <StatusPill state={r.up ? 'up' : 'down'} />
            </td>
            <td>{r.source}</td>
            <td>{r.code ?? ''}</td>
            <td>{ms(r.latencyMs)}</td>
            <td>{r.message ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}
