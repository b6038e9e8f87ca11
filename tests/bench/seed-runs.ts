/**
 * Seeds the runs bench's data straight into a Homeostat database file before its server starts:
 * SEED_RUNS runs (default 100,000) over the last 30 days, each with a `team` label (multi/single)
 * and a status, one run `bench-big` with SEED_BIG_TASKS tasks (default 1,000: a graph of planners,
 * coders and testers with dependencies and branches), and SEED_FAIL_RUNS runs (default 200) of one
 * running task each for the failure → decision figure. Rows go in by multi-row inserts in batches.
 *
 *   DATABASE_URL=file:/tmp/x/homeostat.db DATA_DIR=/tmp/x node_modules/.bin/bun tests/bench/seed-runs.ts
 * Prints one JSON line of figures.
 */
import { sql } from 'drizzle-orm'
import { boot } from '../../app/boot.ts'
import { runLabels, runs, runTasks } from '../../db/schema/runs.ts'

const RUNS = Number(process.env.SEED_RUNS ?? 100_000)
const BIG_TASKS = Number(process.env.SEED_BIG_TASKS ?? 1000)
const FAIL_RUNS = Number(process.env.SEED_FAIL_RUNS ?? 200)
const BATCH = 500
const statuses = ['succeeded', 'succeeded', 'succeeded', 'failed', 'running', 'aborted', 'escalated'] as const
const roles = ['planner', 'architect', 'coder', 'tester', 'debugger']

async function main() {
  const { db, client } = await boot(process.env, { quiet: true })
  const now = Date.now()
  const t0 = performance.now()
  const span = 30 * 86_400_000
  for (let i = 0; i < RUNS; i += BATCH) {
    const rows = []
    const labels = []
    for (let j = i; j < Math.min(RUNS, i + BATCH); j++) {
      const startedAt = now - span + Math.floor((j * span) / RUNS)
      const status = statuses[j % statuses.length]!
      const team = j % 3 ? 'multi' : 'single'
      const id = `run-${String(j).padStart(6, '0')}`
      rows.push({
        id,
        goal: `goal ${j}`,
        labels: { team },
        status,
        startedAt,
        endedAt: status === 'running' || status === 'escalated' ? null : startedAt + 60_000 + (j % 600) * 1000,
        inputTokens: 10_000 + (j % 997),
        outputTokens: 2_000 + (j % 331),
        costUsd: (j % 100) / 200,
        taskCount: 5,
        lastProgressAt: startedAt,
        createdAt: startedAt,
        updatedAt: startedAt,
      })
      labels.push({ name: 'team', value: team, startedAt, runId: id })
    }
    await db.batch([db.insert(runs).values(rows), db.insert(runLabels).values(labels)])
  }
  const runsMs = performance.now() - t0
  await db
    .insert(runs)
    .values({ id: 'bench-big', goal: 'a big run', startedAt: now, lastProgressAt: now, createdAt: now, updatedAt: now })
  for (let i = 0; i < BIG_TASKS; i += BATCH) {
    const rows = []
    for (let j = i; j < Math.min(BIG_TASKS, i + BATCH); j++) {
      const role = roles[j % roles.length]!
      rows.push({
        runId: 'bench-big',
        id: `t${j}`,
        role,
        title: `${role} step ${j}`,
        parentId: j ? `t${Math.floor((j - 1) / 4)}` : null,
        dependsOn: j > 1 ? [`t${j - 1}`, `t${j - 2}`] : [],
        branchOf: role === 'debugger' && j > 5 ? `t${j - 2}` : null,
        depth: role === 'debugger' ? 1 : 0,
        status: j % 10 === 3 ? ('failed' as const) : ('succeeded' as const),
        startedAt: now + j * 1000,
        endedAt: now + j * 1000 + 800,
        model: j % 2 ? 'gpt-4o' : 'claude-sonnet',
        inputTokens: 1000 + j,
        outputTokens: 200 + j,
        costUsd: 0.0001 * (j % 7),
        error: j % 10 === 3 ? 'FAILED tests/test_x.py::test_y - assert 1 == 2' : null,
        failureClass: j % 10 === 3 ? ('test_failure' as const) : null,
        output: { summary: `done ${j}`, files: [`src/f${j}.ts`] },
        createdAt: now,
        updatedAt: now,
      })
    }
    await db.insert(runTasks).values(rows)
  }
  await db.run(sql`UPDATE runs SET task_count = ${BIG_TASKS} WHERE id = 'bench-big'`)
  for (let i = 0; i < FAIL_RUNS; i++) {
    const id = `bench-fail-${i}`
    await db.batch([
      db
        .insert(runs)
        .values({ id, labels: { team: 'multi' }, startedAt: now, lastProgressAt: now, createdAt: now, updatedAt: now }),
      db.insert(runLabels).values({ name: 'team', value: 'multi', startedAt: now, runId: id }),
    ])
  }
  await db.run(sql`ANALYZE`)
  console.log(JSON.stringify({ runs: RUNS, bigTasks: BIG_TASKS, failRuns: FAIL_RUNS, runsSeedMs: Math.round(runsMs) }))
  client.close()
}

await main()
