/** @jsxImportSource hono/jsx */
/**
 * The runs pages (docs/runs.md#dashboard): the list, the escalation queue, the reports and the run
 * page. They read with the module's own queries and act through the runs service, with the same
 * roles and audit rows as the API. The queue and reports are mounted before /runs/:id.
 */
import { Hono } from 'hono'
import type { Run, HumanChoice } from '../../../../db/schema/runs.ts'
import { type AppEnv, actor, type ModuleDeps } from '../../../context.ts'
import { badRequest } from '../../../lib/errors.ts'
import { validate } from '../../../lib/validate.ts'
import { access, canWrite } from '../../../middleware/access.ts'
import { requirePrincipal } from '../../../middleware/auth.ts'
import { audit } from '../../audit/index.ts'
import { RunParam, TaskParam } from '../input.ts'
import { escalationQueue, findTask, getRun, getTask, listRuns } from '../read.ts'
import { ChoiceForm, ListPageQuery, RANGES, ReportsQuery, RunPageQuery } from './input.ts'
import { type ListForm, RunsList } from './list.tsx'
import { QueuePage, QueueRow, recentlyDecided } from './queue.tsx'
import { compare, report, type Scope } from '../reports.ts'
import { ReportsPage } from './reports.tsx'
import { failuresOf, pageTasks, RunPage, TaskDetail } from './run.tsx'

/** What the pages need of the runs service: its clock and a person's choice on an escalated run. */
export type RunsPagesService = {
  now: () => number
  choose: (runId: string, action: HumanChoice, note: string | null, by: string, now: number) => Promise<Run>
}

/** The form's raw values (what the user typed), kept to fill the form again. */
const rawForm = (url: string, keys: readonly string[]) => {
  const q = new URL(url).searchParams
  return Object.fromEntries(keys.map((k) => [k, q.get(k) ?? undefined]))
}

const labelText = (l: { name: string; value: string }) => `${l.name}:${l.value}`

export function runsPages(deps: ModuleDeps & { runs: RunsPagesService }) {
  const { db, runs } = deps
  const app = new Hono<AppEnv>()

  app.get('/runs', access('viewer'), validate('query', ListPageQuery), async (c) => {
    const q = c.req.valid('query')
    const now = runs.now()
    const from = q.from ?? (q.range ? now - RANGES[q.range] : undefined)
    const page = await listRuns(db, { ...q, from, limit: q.limit ?? 50 })
    const form = rawForm(c.req.url, ['status', 'label', 'role', 'class', 'range', 'from', 'to']) as ListForm
    let nextHref: string | null = null
    if (page.next) {
      const u = new URL(c.req.url)
      u.searchParams.set('cursor', page.next)
      // The time window stays fixed while paging: a relative range would move under the cursor.
      if (from !== undefined && q.range) {
        u.searchParams.delete('range')
        u.searchParams.set('from', String(from))
      }
      nextHref = `/runs?${u.searchParams}`
    }
    return c.html(
      <RunsList
        principal={requirePrincipal(c)}
        form={form}
        items={page.items}
        next={page.next}
        nextHref={nextHref}
        now={now}
        src={`/runs${new URL(c.req.url).search}`}
      />,
    )
  })

  app.get('/runs/queue', access('viewer'), async (c) => {
    const [waiting, decided] = await Promise.all([escalationQueue(db), recentlyDecided(db)])
    return c.html(<QueuePage principal={requirePrincipal(c)} waiting={waiting} decided={decided} write={canWrite(c)} />)
  })

  app.post(
    '/runs/queue/:id/decide',
    access('operator'),
    validate('param', RunParam),
    validate('form', ChoiceForm),
    async (c) => {
      const { id } = c.req.valid('param')
      const { action, note } = c.req.valid('form')
      const at = runs.now()
      const run = await runs.choose(id, action, note ?? null, actor(c), at)
      await audit(db, c, { action: 'run.decided', target: id, summary: `${action}${note ? `: ${note}` : ''}` }, at)
      return c.html(<QueueRow run={run} write={false} />)
    },
  )

  app.get('/runs/reports', access('viewer'), validate('query', ReportsQuery), async (c) => {
    const q = c.req.valid('query')
    const now = runs.now()
    const to = q.to ?? now + 1
    const from = q.from ?? to - RANGES[q.range ?? '7d']
    if (from >= to) throw badRequest('Invalid query', [{ field: 'from', message: 'must be before to' }])
    const scope: Scope = { from, to, label: q.label }
    // Two labels over the same period, or this period beside the one before it.
    const two = q.a && q.b ? { a: q.a, b: q.b } : undefined
    const [data, cmp] = await Promise.all([
      report(db, scope, q.by ?? q.a?.name ?? 'team'),
      two
        ? compare(db, { from, to, label: two.a }, { from, to, label: two.b })
        : compare(db, scope, { from: from - (to - from), to: from, label: q.label }),
    ])
    return c.html(
      <ReportsPage
        principal={requirePrincipal(c)}
        form={rawForm(c.req.url, ['range', 'from', 'to', 'label', 'by', 'a', 'b'])}
        from={from}
        to={to}
        data={data}
        comparison={{
          cmp,
          a: two ? labelText(two.a) : 'this period',
          b: two ? labelText(two.b) : 'the period before',
        }}
      />,
    )
  })

  app.get('/runs/:id', access('viewer'), validate('param', RunParam), validate('query', RunPageQuery), async (c) => {
    const { id } = c.req.valid('param')
    const now = runs.now()
    const { task: selected, all } = c.req.valid('query')
    // Two queries whatever the run's size (the run, its tasks), two more for an open task's detail.
    const [run, tasks, task, failures] = await Promise.all([
      getRun(db, id),
      pageTasks(db, id),
      selected ? findTask(db, id, selected) : undefined,
      selected ? failuresOf(db, id, selected) : [],
    ])
    return c.html(
      <RunPage
        principal={requirePrincipal(c)}
        run={run}
        tasks={tasks}
        selected={{ task, failures }}
        allTasks={all === '1'}
        now={now}
      />,
    )
  })

  /** One task's detail, the fragment the graph's and the list's links swap in. */
  app.get('/runs/:id/tasks/:task', access('viewer'), validate('param', TaskParam), async (c) => {
    const { id, task } = c.req.valid('param')
    const [row, failures] = await Promise.all([getTask(db, id, task), failuresOf(db, id, task)])
    return c.html(<TaskDetail task={row} failures={failures} now={runs.now()} />)
  })

  return app
}
