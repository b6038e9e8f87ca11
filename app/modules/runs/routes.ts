import { Hono, type Context } from 'hono'
import { type AppEnv, actor, type ModuleDeps } from '../../context.ts'
import { describe } from '../../lib/route-meta.ts'
import { validate } from '../../lib/validate.ts'
import { access } from '../../middleware/access.ts'
import { audit } from '../audit/index.ts'
import {
  BatchBody,
  ChoiceBody,
  FailureBody,
  ListQuery,
  RunBody,
  RunParam,
  type RunInput,
  RunWithId,
  TaskBatchBody,
  TaskBody,
  TaskParam,
} from './input.ts'
import { escalationQueue, getRun, getTask, listRuns, runJson, taskJson, tasksOf } from './read.ts'
import type { Runs } from './service.ts'

/**
 * The runs API (docs/runs.md#the-api). Agents and orchestrators write with an operator key or a
 * key with the `ingest` scope (access `ingest`); viewers read; a person's choice on an escalated run
 * needs an operator. Writes by agents (keys) are not audited one by one (they are the run's own
 * record); writes by a signed-in person are, and so is every choice.
 */
export function runsRoutes(deps: ModuleDeps & { runs: Runs }) {
  const { db, runs } = deps
  const app = new Hono<AppEnv>()
  const tags = ['runs']

  const auditPerson = async (c: Context<AppEnv>, action: string, target: string, summary?: string) => {
    if (c.get('principal')?.kind === 'session') await audit(db, c, { action, target, summary })
  }

  const putRun = async (c: Context<AppEnv>, id: string, body: RunInput) => {
    const at = runs.now()
    await runs.upsertRun({ ...body, id }, at)
    await auditPerson(c, 'run.recorded', id)
    return c.json(runJson(await getRun(db, id), at))
  }

  app.put(
    '/api/v1/runs/:id',
    access('ingest'),
    describe('Create or update a run (idempotent by id; merges out-of-order updates)', tags),
    validate('param', RunParam),
    validate('json', RunBody),
    async (c) => putRun(c, c.req.valid('param').id, c.req.valid('json')),
  )

  app.post(
    '/api/v1/runs',
    access('ingest'),
    describe('Create or update a run, id in the body (idempotent by id)', tags),
    validate('json', RunWithId),
    async (c) => {
      const { id, ...rest } = c.req.valid('json')
      return putRun(c, id, rest)
    },
  )

  app.post(
    '/api/v1/runs/batch',
    access('ingest'),
    describe('Runs and tasks of several runs in one atomic batch {runs?, tasks?} (≤ 1,000 each)', tags),
    validate('json', BatchBody),
    async (c) => {
      const body = c.req.valid('json')
      const result = await runs.record(body)
      await auditPerson(c, 'run.batch', result.runs.join(',').slice(0, 200), `${result.tasks} tasks`)
      return c.json({ accepted: { runs: body.runs?.length ?? 0, tasks: result.tasks }, runIds: result.runs })
    },
  )

  app.put(
    '/api/v1/runs/:id/tasks/:task',
    access('ingest'),
    describe('Create or update a task of a run (idempotent by run and task id; out of order safe)', tags),
    validate('param', TaskParam),
    validate('json', TaskBody),
    async (c) => {
      const { id, task } = c.req.valid('param')
      const at = runs.now()
      await runs.upsertTask({ ...c.req.valid('json'), runId: id, id: task }, at)
      await auditPerson(c, 'run.task.recorded', `${id}/${task}`)
      return c.json(taskJson(await getTask(db, id, task), at))
    },
  )

  app.post(
    '/api/v1/runs/:id/tasks',
    access('ingest'),
    describe('Many tasks of a run at once {tasks: […]} (≤ 1,000): all written or none, 400 naming each bad item', tags),
    validate('param', RunParam),
    validate('json', TaskBatchBody),
    async (c) => {
      const { id } = c.req.valid('param')
      const { tasks } = c.req.valid('json')
      const result = await runs.record({ tasks: tasks.map((t) => ({ ...t, runId: id })) })
      await auditPerson(c, 'run.tasks.recorded', id, `${result.tasks} tasks`)
      return c.json({ accepted: { tasks: result.tasks }, runId: id })
    },
  )

  app.post(
    '/api/v1/runs/:id/tasks/:task/failed',
    access('ingest'),
    describe(
      'Report a failed attempt; answers the decision: retry (delay), branch (new task, role, depth) or escalate',
      tags,
    ),
    validate('param', TaskParam),
    validate('json', FailureBody),
    async (c) => {
      const { id, task } = c.req.valid('param')
      const answer = await runs.reportFailure(id, task, c.req.valid('json'), runs.now())
      await auditPerson(c, 'run.task.failed', `${id}/${task}`, `${answer.class}: ${answer.action}`)
      return c.json(answer)
    },
  )

  app.get(
    '/api/v1/runs/:id/decision',
    access('ingest'),
    describe("An escalated run's state for its orchestrator: pending, decided (the person's choice) or none", tags),
    validate('param', RunParam),
    async (c) => c.json(await runs.decisionOf(c.req.valid('param').id)),
  )

  app.post(
    '/api/v1/runs/:id/decision',
    access('operator'),
    describe("A person's choice for an escalated run {action: retry|abort|take_over, note?}", tags),
    validate('param', RunParam),
    validate('json', ChoiceBody),
    async (c) => {
      const { id } = c.req.valid('param')
      const { action, note } = c.req.valid('json')
      const at = runs.now()
      const run = await runs.choose(id, action, note ?? null, actor(c), at)
      await audit(db, c, { action: 'run.decided', target: id, summary: `${action}${note ? `: ${note}` : ''}` }, at)
      return c.json(runJson(run, at))
    },
  )

  app.get(
    '/api/v1/runs',
    access('viewer'),
    describe('Runs, newest first (?status=, ?label=name:value, ?role=, ?class=, ?from=, ?to=, paged by cursor)', tags),
    validate('query', ListQuery),
    async (c) => {
      const q = c.req.valid('query')
      const at = runs.now()
      const page = await listRuns(db, { ...q, limit: q.limit ?? 50 })
      return c.json({ items: page.items.map((r) => runJson(r, at)), next: page.next })
    },
  )

  app.get(
    '/api/v1/runs/:id',
    access('viewer'),
    describe('One run with its tasks (the graph: parents, dependencies, branches)', tags),
    validate('param', RunParam),
    async (c) => {
      const { id } = c.req.valid('param')
      const at = runs.now()
      const run = await getRun(db, id)
      const tasks = await tasksOf(db, id)
      return c.json({ ...runJson(run, at), tasks: tasks.map((t) => taskJson(t, at)) })
    },
  )

  app.get(
    '/api/v1/runs/:id/tasks/:task',
    access('viewer'),
    describe('One task of a run, with its error and artifacts', tags),
    validate('param', TaskParam),
    async (c) => {
      const { id, task } = c.req.valid('param')
      return c.json(taskJson(await getTask(db, id, task), runs.now()))
    },
  )

  app.get(
    '/api/v1/run-escalations',
    access('viewer'),
    describe('The escalation queue: runs waiting for a person, oldest first', tags),
    async (c) => {
      const at = runs.now()
      return c.json({ items: (await escalationQueue(db)).map((r) => runJson(r, at)) })
    },
  )

  return app
}
