/**
 * Silences and maintenance windows: storing them, checking them, and applying them to alerts.
 * Matching alerts are recorded and shown (the `silenced` flag, `silenced`/`unsilenced` events),
 * not notified. The flag is set by the store's `hook` on every state change (in the same batch) and
 * by `refresh` (the alerts service's `refreshSilenced`: the `silences` job, and right after a
 * silence changes) as silences start and end.
 */
import { and, desc, eq, gt, isNull, lt, lte, ne, or, sql, type SQL } from 'drizzle-orm'
import type { BatchItem } from 'drizzle-orm/batch'
import type { Db } from '../../../../db/client.ts'
import { alertEvents, alerts, type Alert, type LabelMatcher, storedAlert } from '../../../../db/schema/alerts.ts'
import { silences, type Silence } from '../../../../db/schema/notify.ts'
import { AppError, badRequest, notFound, type ErrorDetail } from '../../../lib/errors.ts'
import { newId } from '../../../lib/ids.ts'
import { toIso } from '../../../lib/time.ts'
import {
  NO_STATEMENTS,
  type EventInput,
  type LifecycleDeps,
  type Transition,
  type TransitionHook,
} from '../lifecycle/lifecycle.ts'
import { setSilenced } from '../lifecycle/lifecycle-actions.ts'
import { regexProblem } from '../../../lib/matchers.ts'
import { compileUserRegex } from '../../../lib/safe-regex.ts'
import {
  createSilenceWindows,
  effectiveEnd,
  NO_END,
  type SilenceState,
  type SilenceWindows,
} from './silence-windows.ts'

export type SilenceInput = {
  matchers: LabelMatcher[]
  startsAt?: number
  endsAt?: number
  duration?: number
  cron?: string
  timezone?: string
  comment?: string
}

/** The reasons a silence is refused, each naming its field; empty when it is fine. */
export function silenceProblems(
  input: SilenceInput,
  now: number,
  { cronFor }: Pick<SilenceWindows, 'cronFor'> = createSilenceWindows(),
): ErrorDetail[] {
  const out: ErrorDetail[] = []
  input.matchers.forEach((m, i) => {
    const problem = m.op === '=~' || m.op === '!~' ? regexProblem(m.value) : undefined
    if (problem) out.push({ field: `matchers.${i}.value`, message: problem })
  })
  if (!out.length && input.matchers.every((m) => matchesEmpty(m)))
    out.push({
      field: 'matchers',
      message: 'at least one matcher must not match the empty string (this silence would match every alert)',
    })
  if (input.cron !== undefined) {
    try {
      cronFor(input.cron)
    } catch (error) {
      out.push({ field: 'cron', message: `is not a valid Croner pattern: ${(error as Error).message}` })
    }
    if (input.duration === undefined)
      out.push({ field: 'duration', message: 'is required with cron: how long each window lasts' })
  } else if (input.endsAt !== undefined && input.duration !== undefined) {
    out.push({ field: 'duration', message: 'give endsAt or duration, not both' })
  } else if (input.endsAt === undefined && input.duration === undefined) {
    out.push({ field: 'endsAt', message: 'is required (or give a duration)' })
  }
  if (input.timezone !== undefined) {
    if (input.cron === undefined)
      out.push({ field: 'timezone', message: 'only applies to a recurring window (with cron)' })
    else if (!validZone(input.timezone))
      out.push({ field: 'timezone', message: 'is not a known IANA time zone (e.g. Europe/Berlin)' })
  }
  const startsAt = input.startsAt ?? now
  if (input.endsAt !== undefined) {
    if (input.endsAt <= startsAt) out.push({ field: 'endsAt', message: 'must be after startsAt' })
    else if (input.endsAt <= now) out.push({ field: 'endsAt', message: 'must be in the future' })
  }
  return out
}

function matchesEmpty(m: LabelMatcher) {
  switch (m.op) {
    case '=':
      return m.value === ''
    case '!=':
      return m.value !== ''
    case '=~':
      return compileUserRegex(m.value).test('')
    case '!~':
      return !compileUserRegex(m.value).test('')
  }
}

function validZone(tz: string) {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz })
    return true
  } catch {
    return false
  }
}

export function silenceJson(
  s: Silence,
  now: number,
  { silenceState, nextWindow }: Pick<SilenceWindows, 'silenceState' | 'nextWindow'>,
) {
  const state: SilenceState = silenceState(s, now)
  const next = state === 'expired' ? null : nextWindow(s, now)
  return {
    id: s.id,
    matchers: s.matchers,
    startsAt: toIso(s.startsAt),
    endsAt: s.endsAt >= NO_END ? null : toIso(s.endsAt),
    cron: s.cron,
    duration: s.durationMs,
    timezone: s.timezone,
    recurring: s.cron !== null,
    comment: s.comment,
    public: s.publicTitle !== null ? { title: s.publicTitle } : null,
    createdBy: s.createdBy,
    createdAt: toIso(s.createdAt),
    expiredAt: toIso(s.expiredAt),
    state,
    ...(s.cron ? { nextWindow: next ? { startsAt: toIso(next.startsAt), endsAt: toIso(next.endsAt) } : null } : {}),
  }
}

export type SilenceFilter = { limit: number; cursor?: string; state?: SilenceState[] }

const CACHE_MS = 2000
const LOOKBACK_MS = 7 * 86_400_000
const ACTOR = 'silences'
const isSilenceChange = (e: EventInput) => e.type === 'silenced' || e.type === 'unsilenced'

/**
 * The silences of one alerts service: storing and reading them, the cache of those in force, the
 * lifecycle hook that flags alerts, and the re-check of open alerts. Its state (the cache, the
 * compiled patterns) lives here, one per service, never in module-level maps keyed by the database.
 */
export function createSilences(db: Db) {
  const windows = createSilenceWindows()
  /** Stores a silence (400 naming each bad field). */
  async function create(input: SilenceInput, createdBy: string, now: number): Promise<Silence> {
    const problems = silenceProblems(input, now, windows)
    if (problems.length) throw badRequest('Invalid silence', problems)
    const startsAt = input.startsAt ?? now
    const recurring = input.cron !== undefined
    const row: Silence = {
      id: newId(now),
      matchers: input.matchers,
      startsAt,
      endsAt: input.endsAt ?? (recurring ? NO_END : startsAt + input.duration!),
      cron: input.cron ?? null,
      durationMs: recurring ? input.duration! : null,
      timezone: recurring ? (input.timezone ?? null) : null,
      comment: input.comment ?? '',
      createdBy,
      createdAt: now,
      expiredAt: null,
      publicTitle: null,
    }
    await db.insert(silences).values(row)
    invalidate()
    return row
  }

  async function get(id: string) {
    const [row] = await db.select().from(silences).where(eq(silences.id, id))
    if (!row) throw notFound('Silence')
    return row
  }

  /** Ends a silence now; a silence that already ended is a 409. */
  async function expire(id: string, now: number) {
    const row = await get(id)
    if (now >= effectiveEnd(row)) throw new AppError(409, 'conflict', 'The silence has already ended')
    await db.update(silences).set({ expiredAt: now }).where(eq(silences.id, id))
    invalidate()
    return { ...row, expiredAt: now }
  }

  /**
   * Marks a silence public (scheduled maintenance on the status pages, under `title`) or private
   * again (`null`). Only the title and the window are ever shown publicly.
   */
  async function setPublic(id: string, title: string | null) {
    const row = await get(id)
    await db.update(silences).set({ publicTitle: title }).where(eq(silences.id, id))
    return { ...row, publicTitle: title }
  }

  /**
   * The public silences as maintenance windows, for the status pages: the one in force or next
   * (a recurring silence gives its current or next window), and those that ended within `pastMs`.
   * Titles and windows only: matchers and comments stay private.
   */
  async function publicMaintenance(now: number, pastMs: number) {
    const cut = now - pastMs
    const rows = await db
      .select()
      .from(silences)
      .where(
        and(
          sql`${silences.publicTitle} is not null`,
          gt(silences.endsAt, cut),
          or(isNull(silences.expiredAt), gt(silences.expiredAt, cut)),
        ),
      )
    return rows.flatMap((s) => {
      const state = windows.silenceState(s, now)
      const window = s.cron
        ? state === 'active'
          ? windows.windowAt(s, now)
          : windows.nextWindow(s, now)
        : { startsAt: s.startsAt, endsAt: effectiveEnd(s) }
      if (!window) return []
      return [{ id: s.id, title: s.publicTitle!, state, recurring: s.cron !== null, ...window }]
    })
  }

  /** Silences newest first, by state at `now` (recurring windows are checked one by one). */
  async function list(f: SilenceFilter, now: number) {
    const states = f.state?.length ? new Set(f.state) : null
    const ended = or(lte(silences.endsAt, now), lte(silences.expiredAt, now))
    const where: (SQL | undefined)[] = []
    if (states && !states.has('expired'))
      where.push(and(gt(silences.endsAt, now), or(isNull(silences.expiredAt), gt(silences.expiredAt, now))))
    if (states && states.size === 1 && states.has('expired')) where.push(ended)
    const items: Silence[] = []
    let cursor = f.cursor
    for (;;) {
      const rows = await db
        .select()
        .from(silences)
        .where(and(...where, cursor ? lt(silences.id, cursor) : undefined))
        .orderBy(desc(silences.id))
        .limit(200)
      for (const r of rows) if (!states || states.has(windows.silenceState(r, now))) items.push(r)
      if (items.length > f.limit || rows.length < 200) break
      cursor = rows.at(-1)!.id
    }
    const page = items.slice(0, f.limit)
    return { items: page, next: items.length > f.limit ? page.at(-1)!.id : null }
  }

  /** The open alerts (pending, firing, acknowledged) these matchers select, newest first. */
  async function openAlertsMatching(matchers: LabelMatcher[], limit = 500): Promise<Alert[]> {
    const open = await db.select(storedAlert).from(alerts).where(ne(alerts.status, 'resolved')).orderBy(desc(alerts.id))
    // Stops at `limit`: the rest would be matched only to be thrown away.
    const out: Alert[] = []
    for (const a of open) {
      if (out.length >= limit) break
      if (windows.matchesLabels(matchers, a.labels)) out.push(a)
    }
    return out
  }

  // The silences that may be in force: read at most every 2 s, and again at once after a change
  // through this store. Other instances' changes are seen within 2 s (and the job catches up every 15 s).
  let cache: { at: number; rows: Promise<Silence[]>; value?: Silence[] } | undefined

  function invalidate() {
    cache = undefined
  }

  /** The silences that have not ended (a week's lookback, so a `now` a little in the past still sees them). */
  function current(): Promise<Silence[]> {
    const at = Date.now()
    const hit = cache
    if (hit && at - hit.at < CACHE_MS) return hit.rows
    const cut = at - LOOKBACK_MS
    const rows = db
      .select()
      .from(silences)
      .where(and(gt(silences.endsAt, cut), or(isNull(silences.expiredAt), gt(silences.expiredAt, cut))))
    const entry: { at: number; rows: Promise<Silence[]>; value?: Silence[] } = { at, rows: Promise.resolve(rows) }
    entry.rows.then(
      (value) => void (entry.value = value),
      () => cache === entry && invalidate(),
    )
    cache = entry
    return entry.rows
  }

  /** `current` without waiting when they are cached (the lifecycle hook runs for every repeat). */
  function currentNow(): Silence[] | Promise<Silence[]> {
    const hit = cache
    return hit?.value && Date.now() - hit.at < CACHE_MS ? hit.value : current()
  }

  /**
   * The lifecycle hook: on every state change, the alert is silenced when a silence in force
   * matches its labels at the change's time. It sets `t.after.silenced` (so hooks after it, like
   * the outbox, see it) and appends a `silenced`/`unsilenced` event to `t.events` when the flag
   * changes, writing both in the same batch. A change that is itself a silence change (from
   * `setSilenced`) is left as it is.
   */
  const hook: TransitionHook = (db, t) => {
    if (t.events.some(isSilenceChange)) return NO_STATEMENTS
    const list = currentNow()
    return Array.isArray(list) ? silenceStatements(db, t, list) : list.then((l) => silenceStatements(db, t, l))
  }

  function silenceStatements(db: Db, t: Transition, list: Silence[]): readonly BatchItem<'sqlite'>[] {
    // Every report of an alert asks: answered without making anything when the flag stays.
    const want = list.length > 0 && windows.isSilenced(t.after.labels, list, t.at)
    if (want === t.after.silenced) return NO_STATEMENTS
    const hits = want ? windows.matchingSilences(t.after.labels, list, t.at) : []
    t.after.silenced = want
    const event: EventInput = want
      ? { type: 'silenced', actor: ACTOR, detail: { silenceIds: hits.map((s) => s.id), status: t.after.status } }
      : { type: 'unsilenced', actor: ACTOR, detail: { reason: 'no silence matches', status: t.after.status } }
    t.events.push(event)
    return [
      db.update(alerts).set({ silenced: want }).where(eq(alerts.id, t.after.id)),
      db
        .insert(alertEvents)
        .values({ alertId: t.after.id, ts: t.at, type: event.type, actor: event.actor, detail: event.detail ?? {} }),
    ]
  }

  /**
   * Re-checks every open alert against the silences at `now` (the `silences` job, and right after a
   * silence is created or expired): sets or clears the flag through `setSilenced`, so each change
   * is a `silenced`/`unsilenced` event that the lifecycle hooks (the outbox) see.
   */
  async function refresh(lifecycle: LifecycleDeps, now: number) {
    invalidate()
    const list = await current()
    // With no silence in force, only alerts still flagged can change (found by a partial index),
    // rather than every open alert's labels read and parsed (after a large intake, every row each tick).
    const anyInForce = list.some((s) => windows.silencesAt(s, now))
    const open = await db
      .select({ id: alerts.id, labels: alerts.labels, silenced: alerts.silenced })
      .from(alerts)
      .where(
        anyInForce ? ne(alerts.status, 'resolved') : and(sql`${alerts.silenced} = 1`, ne(alerts.status, 'resolved')),
      )
    let silenced = 0
    let unsilenced = 0
    for (const a of open) {
      const hits = windows.matchingSilences(a.labels, list, now)
      const want = hits.length > 0
      if (want === a.silenced) continue
      const detail = want ? { silenceIds: hits.map((s) => s.id) } : { reason: 'silence ended' }
      try {
        const row = await setSilenced(lifecycle, a.id, want, { actor: ACTOR }, now, detail)
        if (row.silenced === want) want ? silenced++ : unsilenced++
      } catch (error) {
        if (!(error instanceof AppError && error.status === 404)) throw error // deleted meanwhile
      }
    }
    return { checked: open.length, silenced, unsilenced }
  }

  return {
    windows,
    /** The lifecycle hook (the alerts service runs it first on every change). */
    hook,
    create,
    get,
    expire,
    list,
    openAlertsMatching,
    setPublic,
    publicMaintenance,
    json: (s: Silence, now: number) => silenceJson(s, now, windows),
    /** The silences that have not ended (cached briefly). */
    current,
    /** Re-checks every open alert against the silences at `now` through `lifecycle`. */
    refresh,
  }
}

export type Silences = ReturnType<typeof createSilences>
