/**
 * The orchestrator: every remediation goes through here. One tick of the `healing` job:
 *
 *   triggers → new actions (cooldown, caps, approval) → expire approvals → fail RUNNING actions
 *   whose owner is gone → verify what is due → run what is due (priority desc, runAfter asc,
 *   one per target).
 *
 * Never twice: each step is a compare-and-set on the status written BEFORE the side effect.
 * PENDING → RUNNING commits together with the target's lock row (an INSERT that only one action
 * can win) before `execute` is called; a crash after that leaves a RUNNING row whose lock stops
 * being refreshed, and a later tick marks it FAILED ("interrupted by restart") instead of running
 * it again — the side effect may or may not have happened, so it is never repeated blindly.
 * VERIFYING only reads (checks), so it resumes after a restart: its `verifyAt` is a lease that
 * the next tick (on any instance) takes over once it passes.
 */
import { maskHeaders } from '../actions/headers.ts'
import { and, eq, sql } from 'drizzle-orm'
import type { Db } from '../../../../db/client.ts'
import { healingActions, healingLocks, type HealingAction } from '../../../../db/schema/healing.ts'
import { actionDef } from '../actions/index.ts'
import { ActionError, type HealingCtx } from '../types.ts'
import { raiseFailure, resolveFailure } from '../failure-alert.ts'
import { noticeAlert, queueNotice, type NoticeEvent } from '../notices.ts'
import { activeActions, move, planOf, transition } from './store.ts'
import { collectTriggers } from '../rules/triggers.ts'
import { enqueueFromRule } from './enqueue.ts'
import { runCheck } from './verify.ts'

/** A RUNNING action's lock is refreshed this often while it runs… */
export const HEARTBEAT_MS = 5_000
/** …and one not refreshed for this long belongs to an instance that is gone. */
export const STALE_MS = 30_000
/** How long a verification check may hold a VERIFYING action before another tick may take it over. */
const VERIFY_LEASE_MS = 60_000
/** Checks of a verification that does not hold yet repeat this often until its deadline. */
export const VERIFY_POLL_MS = 1_000
const DEFAULT_VERIFY_TIMEOUT_MS = 30_000
/** Retries: 2 s, 4 s, 8 s … up to 5 min. */
export const retryBackoff = (attempt: number) => Math.min(300_000, 2_000 * 2 ** Math.max(0, attempt - 1))
const MAX_STARTS_PER_TICK = 20

/** What one healing service keeps between ticks, in this process only. */
type TickState = {
  /** Work started by this process: never taken over by this process's own ticks; settle() waits for it. */
  inflight: Map<string, Promise<void>>
  /** When each detection rule was last evaluated. */
  lastDetection: Map<string, number>
}

/**
 * The orchestrator of one healing service: `tick(now)` is one run of the `healing` job, `settle()`
 * waits until the work this process started has finished (tests; shutdown).
 */
export function createOrchestrator(deps: HealingCtx) {
  const state: TickState = { inflight: new Map(), lastDetection: new Map() }
  return {
    tick: (now: number) => healingTick(deps, state, now),
    async settle() {
      while (state.inflight.size) await Promise.allSettled([...state.inflight.values()])
    },
  }
}

function track(deps: HealingCtx, inflight: TickState['inflight'], id: string, work: () => Promise<void>) {
  const p = work()
    .catch((error) =>
      deps.log?.error('healing action crashed', { action: id, error: String((error as Error)?.message ?? error) }),
    )
    .finally(() => inflight.delete(id))
  inflight.set(id, p)
}

/** A clock that starts at the tick's time and moves with real time. */
const clockFrom = (now: number) => {
  const t0 = Date.now()
  return () => now + (Date.now() - t0)
}

async function notice(deps: HealingCtx, a: HealingAction, event: NoticeEvent, at: number) {
  const plan = planOf(a)
  if (!plan.notify.on.includes(event) || !plan.notify.channelIds.length) return
  await queueNotice(deps, plan.notify.channelIds, noticeAlert(a, event, deps.config.PUBLIC_URL, at), event, at).catch(
    (error) => deps.log?.warn('healing notice failed', { action: a.id, error: String(error) }),
  )
}

/** The end of an action: final status, lock released, timeline, notices, the failure alert raised or resolved. */
async function finish(
  deps: HealingCtx,
  a: HealingAction,
  from: HealingAction['status'][],
  status: 'SUCCESS' | 'FAILED' | 'ROLLED_BACK',
  at: number,
  fields: { reason?: string | null; error?: string | null; output?: Record<string, unknown> },
  message: string,
) {
  const row = await move(
    deps,
    a,
    from,
    {
      status,
      finishedAt: at,
      updatedAt: at,
      reason: fields.reason ?? null,
      error: fields.error ?? null,
      ...(fields.output ? { output: fields.output } : {}),
    },
    (g) => [g.event(status, 'healing', message), g.releaseLock()],
  )
  if (!row) return
  await notice(deps, row, status === 'SUCCESS' ? 'success' : 'failure', at)
  if (row.dryRun) return
  if (status === 'SUCCESS') await resolveFailure(deps, row, at)
  else await raiseFailure(deps, row, at)
}

/** PENDING → RUNNING with the target's lock, in one batch; true when this caller won both. */
async function claim(db: Db, a: HealingAction, at: number): Promise<HealingAction | undefined> {
  if (a.dryRun) {
    return transition(
      db,
      a,
      'PENDING',
      { status: 'RUNNING', attempt: a.attempt + 1, startedAt: a.startedAt ?? at, updatedAt: at },
      (g) => [g.event('RUNNING', 'healing', 'dry run: nothing is changed')],
    )
  }
  const [, updated] = await db.batch([
    db.run(
      sql`insert into healing_locks (target, action_id, acquired_at) select ${a.target}, ${a.id}, ${at} where exists (select 1 from healing_actions where id = ${a.id} and status = 'PENDING') on conflict (target) do nothing`,
    ),
    db
      .update(healingActions)
      .set({
        status: 'RUNNING',
        attempt: sql`${healingActions.attempt} + 1`,
        startedAt: sql`coalesce(${healingActions.startedAt}, ${at})`,
        updatedAt: at,
      })
      .where(
        and(
          eq(healingActions.id, a.id),
          eq(healingActions.status, 'PENDING'),
          sql`exists (select 1 from healing_locks where target = ${a.target} and action_id = ${a.id})`,
        ),
      )
      .returning(),
    // changes(): whether the UPDATE just before (this caller's claim) changed the row.
    db.run(
      sql`insert into healing_events (action_id, ts, status, actor, message, detail) select id, ${at}, 'RUNNING', 'healing', 'attempt ' || attempt || ' of ' || max_attempts, '{}' from healing_actions where changes() = 1 and id = ${a.id} and status = 'RUNNING' and updated_at = ${at} and exists (select 1 from healing_locks where target = ${a.target} and action_id = ${a.id} and acquired_at = ${at})`,
    ),
  ])
  return (updated as HealingAction[])[0]
}

/** Keeps the lock fresh while the action runs, so no tick takes it for an orphan. */
function heartbeat(db: Db, a: HealingAction, clock: () => number) {
  const timer = setInterval(() => {
    db.update(healingLocks)
      .set({ acquiredAt: clock() })
      .where(and(eq(healingLocks.target, a.target), eq(healingLocks.actionId, a.id)))
      .catch(() => undefined)
  }, HEARTBEAT_MS)
  timer.unref?.()
  return () => clearInterval(timer)
}

/** Runs a claimed action: execute, then SUCCESS, VERIFYING, a retry (PENDING after backoff) or FAILED. */
async function execute(deps: HealingCtx, a: HealingAction, clock: () => number) {
  const { db } = deps
  const def = actionDef(a.actionType)
  if (!def)
    return finish(
      deps,
      a,
      ['RUNNING'],
      'FAILED',
      clock(),
      { reason: `unknown action type ${a.actionType}`, error: `unknown action type ${a.actionType}` },
      `unknown action type ${a.actionType}`,
    )
  if (a.dryRun) {
    const would = {
      dryRun: true,
      wouldExecute: { type: a.actionType, describe: def.describe, target: a.target, params: maskHeaders(a.params) },
      verification: planOf(a).verification,
      rollback: !!def.rollback && planOf(a).rollbackOnFailure,
    }
    return finish(
      deps,
      a,
      ['RUNNING'],
      'SUCCESS',
      clock(),
      { output: { ...a.output, result: would } },
      'dry run: recorded what would happen',
    )
  }
  if (a.attempt === 1) await notice(deps, a, 'start', clock())
  const stop = heartbeat(db, a, clock)
  let result: Record<string, unknown>
  try {
    const v = def.validate(a.params)
    if (!v.ok) throw new ActionError(`bad params: ${v.issues.map((i) => `${i.field} ${i.message}`).join('; ')}`, false)
    result = await def.execute({ deps, action: a, params: v.params, target: a.target, now: clock })
  } catch (error) {
    stop()
    return failAttempt(deps, a, error, clock())
  }
  stop()
  const at = clock()
  const plan = planOf(a)
  const output = { ...a.output, result }
  if (plan.verification.type === 'none' && !def.verify)
    return finish(deps, a, ['RUNNING'], 'SUCCESS', at, { output }, 'done')
  const afterMs = plan.verification.type === 'none' ? 0 : plan.verification.afterMs
  const deadline =
    at +
    afterMs +
    (plan.verification.type === 'none'
      ? DEFAULT_VERIFY_TIMEOUT_MS
      : (plan.verification.timeoutMs ?? DEFAULT_VERIFY_TIMEOUT_MS))
  await move(
    deps,
    a,
    'RUNNING',
    {
      status: 'VERIFYING',
      verifyAt: at + afterMs,
      updatedAt: at,
      output: { ...output, verification: { deadline, checks: 0 } },
    },
    (g) => [
      g.event(
        'VERIFYING',
        'healing',
        `executed; verifying ${plan.verification.type} from ${new Date(at + afterMs).toISOString()}`,
        { result },
      ),
    ],
  )
}

async function failAttempt(deps: HealingCtx, a: HealingAction, error: unknown, at: number) {
  const { db } = deps
  const message = String((error as Error)?.message ?? error).slice(0, 2000)
  const retryable = !(error instanceof ActionError) || error.retryable
  const output = {
    ...a.output,
    ...(error instanceof ActionError && Object.keys(error.output).length ? { lastFailure: error.output } : {}),
  }
  if (retryable && a.attempt < a.maxAttempts) {
    const runAfter = at + (actionDef(a.actionType)?.backoffMs?.(a.attempt) ?? retryBackoff(a.attempt))
    await move(deps, a, 'RUNNING', { status: 'PENDING', runAfter, error: message, output, updatedAt: at }, (g) => [
      g.event(
        'PENDING',
        'healing',
        `attempt ${a.attempt} failed: ${message}; retry at ${new Date(runAfter).toISOString()}`,
      ),
      g.releaseLock(),
    ])
    return
  }
  const reason = retryable && a.attempt > 1 ? `failed after ${a.attempt} attempts: ${message}` : message
  await finish(deps, a, ['RUNNING'], 'FAILED', at, { reason, error: message, output }, reason)
}

/** One verification check of a VERIFYING action it has leased; SUCCESS, keep polling, or (past its deadline) rollback/FAILED. */
async function verify(deps: HealingCtx, a: HealingAction, clock: () => number) {
  const { db } = deps
  const plan = planOf(a)
  const def = actionDef(a.actionType)
  const state = (a.output.verification ?? {}) as { deadline?: number; checks?: number }
  const deadline = state.deadline ?? clock()
  let outcome: { ok: boolean; detail?: Record<string, unknown> }
  try {
    outcome = await runCheck(deps, a, plan.verification, Math.max(1, deadline - clock()))
    if (outcome.ok && def?.verify) {
      const v = def.validate(a.params)
      if (v.ok)
        outcome = await def.verify({
          deps,
          action: a,
          params: v.params,
          target: a.target,
          now: clock,
          result: a.output.result as Record<string, unknown>,
        })
    }
  } catch (error) {
    outcome = { ok: false, detail: { error: String((error as Error)?.message ?? error) } }
  }
  const at = clock()
  const checks = (state.checks ?? 0) + 1
  if (outcome.ok)
    return finish(
      deps,
      a,
      ['VERIFYING'],
      'SUCCESS',
      at,
      { output: { ...a.output, verification: { ...state, checks, passed: outcome.detail ?? {} } } },
      `verified (${plan.verification.type})`,
    )
  if (at < deadline) {
    await db
      .update(healingActions)
      .set({
        verifyAt: Math.min(deadline, at + VERIFY_POLL_MS),
        output: { ...a.output, verification: { ...state, checks, last: outcome.detail ?? {} } },
        updatedAt: at,
      })
      .where(and(eq(healingActions.id, a.id), eq(healingActions.status, 'VERIFYING')))
    return
  }
  const why = `verification failed (${plan.verification.type}) by ${new Date(deadline).toISOString()}${outcome.detail?.error ? `: ${String(outcome.detail.error)}` : ''}`
  const output = { ...a.output, verification: { ...state, checks, failed: outcome.detail ?? {} } }
  if (!def?.rollback || !plan.rollbackOnFailure)
    return finish(deps, a, ['VERIFYING'], 'FAILED', at, { reason: why, error: why, output }, why)
  // Before the rollback's side effect: RUNNING again, with a fresh lock heartbeat.
  const rolling = await move(
    deps,
    a,
    'VERIFYING',
    { status: 'RUNNING', reason: `${why}; rolling back`, output, updatedAt: at },
    (g) => [g.event('RUNNING', 'healing', `${why}; rolling back`), g.refreshLock(at)],
  )
  if (!rolling) return
  const stop = heartbeat(db, rolling, clock)
  try {
    const v = def.validate(a.params)
    const undone = await def.rollback({
      deps,
      action: rolling,
      params: v.ok ? v.params : a.params,
      target: a.target,
      now: clock,
      result: a.output.result as Record<string, unknown>,
    })
    stop()
    await finish(
      deps,
      rolling,
      ['RUNNING'],
      'ROLLED_BACK',
      clock(),
      { reason: why, error: why, output: { ...output, rollback: undone } },
      `rolled back: ${why}`,
    )
  } catch (error) {
    stop()
    const msg = `${why}; rollback failed: ${String((error as Error)?.message ?? error)}`
    await finish(deps, rolling, ['RUNNING'], 'FAILED', clock(), { reason: msg, error: msg, output }, msg)
  }
}

/** Leases a due VERIFYING action for one check (compare-and-set on verifyAt). */
async function leaseVerification(db: Db, a: HealingAction, now: number) {
  const [row] = await db
    .update(healingActions)
    .set({ verifyAt: now + VERIFY_LEASE_MS })
    .where(
      and(
        eq(healingActions.id, a.id),
        eq(healingActions.status, 'VERIFYING'),
        sql`${healingActions.verifyAt} <= ${now}`,
      ),
    )
    .returning()
  return row
}

/**
 * One tick. Cheap when idle: the enabled rules, the watermarks, and the active actions (by the
 * status index) — and the event scans only for trigger types some rule uses.
 */
async function healingTick(deps: HealingCtx, state: TickState, now: number) {
  const { db } = deps
  const counts = { triggered: 0, skipped: 0, started: 0, verified: 0, expired: 0, interrupted: 0 }
  for (const { rule, ref } of await collectTriggers(deps, state.lastDetection, now)) {
    for (const c of await enqueueFromRule(deps, rule, ref, now)) {
      if (c.action.status === 'SKIPPED') counts.skipped++
      else if (c.created) counts.triggered++
    }
  }
  const active = await activeActions(db)
  if (!active.length) return counts
  const mine = state.inflight
  const locks = new Map((await db.select().from(healingLocks)).map((l) => [l.target, l]))

  for (const a of active) {
    if (a.status === 'PENDING_APPROVAL' && a.approvalExpiresAt !== null && a.approvalExpiresAt <= now) {
      const row = await move(
        deps,
        a,
        'PENDING_APPROVAL',
        { status: 'EXPIRED', reason: 'approval expired', finishedAt: now, updatedAt: now },
        (g) => [g.event('EXPIRED', 'healing', `nobody approved it by ${new Date(a.approvalExpiresAt!).toISOString()}`)],
      )
      if (row) counts.expired++
    }
    if (a.status === 'RUNNING' && !mine.has(a.id)) {
      const lock = locks.get(a.target)
      const owned = lock && lock.actionId === a.id
      // A dry run takes no lock: its row's last change stands for the heartbeat.
      const stale = a.dryRun ? a.updatedAt < now - STALE_MS : !owned || lock.acquiredAt < now - STALE_MS
      if (stale) {
        const during = a.reason?.endsWith('rolling back') ? ' during rollback' : ''
        await finish(
          deps,
          a,
          ['RUNNING'],
          'FAILED',
          now,
          {
            reason: `interrupted by restart${during}`,
            error: `interrupted by restart${during}: the instance running it stopped; it is not run again automatically`,
          },
          `interrupted by restart${during} (its lock was last refreshed ${lock ? new Date(lock.acquiredAt).toISOString() : 'never'})`,
        )
        if (owned) locks.delete(a.target)
        counts.interrupted++
      }
    }
    if (a.status === 'VERIFYING' && a.verifyAt !== null && a.verifyAt <= now && !mine.has(a.id)) {
      const leased = await leaseVerification(db, a, now)
      if (leased) {
        counts.verified++
        track(deps, mine, a.id, () => verify(deps, leased, clockFrom(now)))
      }
    }
  }

  // A lock whose action is no longer active (its row deleted by hand) would block its target forever.
  const activeIds = new Set(active.map((a) => a.id))
  for (const l of locks.values()) {
    if (!activeIds.has(l.actionId) && !mine.has(l.actionId) && l.acquiredAt < now - STALE_MS) {
      await db
        .delete(healingLocks)
        .where(
          and(
            eq(healingLocks.target, l.target),
            eq(healingLocks.actionId, l.actionId),
            sql`not exists (select 1 from healing_actions where id = ${l.actionId} and status in ('RUNNING', 'VERIFYING'))`,
          ),
        )
      locks.delete(l.target)
    }
  }

  // Due PENDING actions, best first; one per target (the lock), at most a few per tick.
  const busy = new Set(locks.keys())
  for (const a of active) {
    if (counts.started >= MAX_STARTS_PER_TICK) break
    if (a.status !== 'PENDING' || a.runAfter > now || mine.has(a.id)) continue
    if (!a.dryRun && busy.has(a.target)) continue
    const claimed = await claim(db, a, now)
    if (claimed) deps.changed?.([claimed.id])
    if (!claimed) continue
    if (!a.dryRun) busy.add(a.target)
    counts.started++
    track(deps, mine, a.id, () => execute(deps, claimed, clockFrom(now)))
  }
  return counts
}
