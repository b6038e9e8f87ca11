/** @jsxImportSource hono/jsx */
/** The front page's n8n tile: workflows failing, degraded or stopped (docs/n8n.md), worst first. */
import { count, desc, inArray, sql } from 'drizzle-orm'
import type { Db } from '../../../../db/client.ts'
import { n8nWorkflows } from '../../../../db/schema/n8n.ts'
import { when } from '../../../lib/layout.tsx'
import { type FrontTile, TileEmpty } from '../../../lib/tiles.tsx'

const LISTED = 6
const BAD = ['failing', 'stopped', 'degraded'] as const

export async function troubledWorkflows(db: Db) {
  const [counts, top] = await Promise.all([
    db.select({ state: n8nWorkflows.state, n: count() }).from(n8nWorkflows).groupBy(n8nWorkflows.state),
    db
      .select({
        instanceId: n8nWorkflows.instanceId,
        workflowId: n8nWorkflows.workflowId,
        name: n8nWorkflows.name,
        state: n8nWorkflows.state,
        reason: n8nWorkflows.stateReason,
        lastFailureAt: n8nWorkflows.lastFailureAt,
      })
      .from(n8nWorkflows)
      .where(inArray(n8nWorkflows.state, [...BAD]))
      .orderBy(
        sql`case ${n8nWorkflows.state} when 'failing' then 0 when 'stopped' then 1 else 2 end`,
        desc(n8nWorkflows.lastFailureAt),
      )
      .limit(LISTED),
  ])
  const by = Object.fromEntries(counts.map((r) => [r.state, r.n])) as Record<string, number>
  return { total: counts.reduce((a, r) => a + r.n, 0), by, top }
}

function WorkflowsView({ data }: { data: Awaited<ReturnType<typeof troubledWorkflows>> }) {
  if (!data.total)
    return (
      <TileEmpty doc="n8n">
        No n8n workflows watched yet: <a href="/healing/n8n">add an n8n instance</a> and its workflows show here.
      </TileEmpty>
    )
  const bad = BAD.reduce((a, s) => a + (data.by[s] ?? 0), 0)
  return (
    <>
      <p data-count="workflows-bad">
        {BAD.map((s) => `${data.by[s] ?? 0} ${s}`).join(' · ')} <span class="muted">of {data.total} workflows</span>
      </p>
      {bad ? (
        <ul class="plain upkeep-list">
          {data.top.map((w) => (
            <li>
              <a
                href={`/n8n/workflow?instance=${encodeURIComponent(w.instanceId)}&id=${encodeURIComponent(w.workflowId)}`}
              >
                {w.name}
              </a>{' '}
              <span class={`pill ${w.state === 'degraded' ? 'unknown' : 'down'}`}>{w.state}</span>{' '}
              <span class="muted">
                {w.reason ?? ''}
                {w.lastFailureAt ? ` · last failure ${when(w.lastFailureAt)}` : ''}
              </span>
            </li>
          ))}
        </ul>
      ) : (
        <p class="calm">Every watched workflow is healthy or switched off on purpose.</p>
      )}
    </>
  )
}

/** The tiles this module puts on the front page (listed by the composition root). */
export function workflowTiles({ db }: { db: Db }): FrontTile[] {
  return [
    {
      id: 'n8n-workflows',
      section: 'upkeep',
      order: 20,
      title: 'n8n workflows',
      access: 'viewer',
      topic: 'n8n',
      render: async () => <WorkflowsView data={await troubledWorkflows(db)} />,
    },
  ]
}
