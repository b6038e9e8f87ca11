import { describe, expect, it } from 'vitest'
import { taskMovesForward } from '../../app/modules/runs/lifecycle.ts'
import { DEFAULT_POLICY, decide, mergePolicies, policyFor } from '../../app/modules/runs/policy.ts'

const run = { costUsd: 0.1, startedAt: 0 }
const task = { id: 't', role: 'coder', depth: 0 }

describe('decide', () => {
  it('follows the route per class, counting attempts and depth', () => {
    const policy = DEFAULT_POLICY
    expect(decide({ policy, cls: 'syntax', attempt: 1, task, run, now: 1000 })).toMatchObject({
      action: 'retry',
      attempt: 2,
      role: 'coder',
      delayMs: 0,
    })
    expect(decide({ policy, cls: 'rate_limit', attempt: 1, task, run, now: 1000 })).toMatchObject({
      action: 'retry',
      delayMs: 30_000,
    })
    expect(decide({ policy, cls: 'syntax', attempt: 3, task, run, now: 1000 }).action).toBe('escalate')
    expect(decide({ policy, cls: 'test_failure', attempt: 1, task, run, now: 1000 })).toMatchObject({
      action: 'branch',
      task: { id: 't~debugger', role: 'debugger', depth: 1, branchOf: 't' },
    })
    expect(
      decide({ policy, cls: 'test_failure', attempt: 2, task: { ...task, depth: 2 }, run, now: 1000 }).action,
    ).toBe('escalate')
    expect(decide({ policy, cls: 'budget', attempt: 1, task, run, now: 1000 }).action).toBe('escalate')
  })

  it('escalates a run over its cost or time budget whatever the class', () => {
    const policy = DEFAULT_POLICY
    expect(decide({ policy, cls: 'syntax', attempt: 1, task, run: { costUsd: 1, startedAt: 0 }, now: 1 }).action).toBe(
      'escalate',
    )
    expect(decide({ policy, cls: 'syntax', attempt: 1, task, run, now: 3_600_000 }).action).toBe('escalate')
  })

  it('is a function of its inputs: the same failure gives the same decision', () => {
    const input = { policy: DEFAULT_POLICY, cls: 'runtime_error' as const, attempt: 2, task, run, now: 5 }
    expect(decide(input)).toEqual(decide(input))
  })
})

describe('policies', () => {
  it('merge defaults ← stored default ← labels (name order) ← run; routes per class', () => {
    const stored = new Map([
      ['default', { maxAttempts: 5 }],
      ['label:team=multi', { maxDepth: 4, routes: { syntax: { action: 'escalate' as const } } }],
      ['label:env=prod', { maxDepth: 1, budgetCostUsd: 2 }],
    ])
    const p = policyFor(stored, { labels: { team: 'multi', env: 'prod' }, policy: { budgetCostUsd: 3 } })
    expect(p).toMatchObject({ maxAttempts: 5, maxDepth: 4, budgetCostUsd: 3 })
    expect(p.routes.syntax).toEqual({ action: 'escalate' })
    expect(p.routes.test_failure).toEqual(DEFAULT_POLICY.routes.test_failure)
    expect(mergePolicies()).toEqual(DEFAULT_POLICY)
  })
})

describe('lifecycle', () => {
  it('moves forward only, and a new attempt starts again', () => {
    expect(taskMovesForward({ attempt: 1, status: 'succeeded' }, { status: 'running' })).toBe(false)
    expect(taskMovesForward({ attempt: 1, status: 'running' }, { status: 'succeeded' })).toBe(true)
    expect(taskMovesForward({ attempt: 1, status: 'failed' }, { attempt: 2, status: 'running' })).toBe(true)
    expect(taskMovesForward({ attempt: 2, status: 'running' }, { attempt: 1, status: 'succeeded' })).toBe(false)
    expect(taskMovesForward({ attempt: 1, status: 'failed' }, { status: 'succeeded' })).toBe(false)
  })
})
