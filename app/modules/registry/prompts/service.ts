/**
 * The prompt registry's writes and the agents' cached read. Made once by the composition root
 * (`createPrompts`); every write bumps the prompt's `revision`, drops this process's cached
 * answers, and tells `onEvent` (the webhook subscriptions) what changed.
 */
import { and, asc, desc, eq, gt, lt, sql } from 'drizzle-orm'
import type { Db } from '../../../../db/client.ts'
import {
  type Prompt,
  type PromptVersion,
  promptLabelEvents,
  promptLabels,
  promptVersions,
  prompts,
} from '../../../../db/schema/prompts.ts'
import { isUniqueViolation } from '../../../lib/db-errors.ts'
import { AppError, conflict, notFound } from '../../../lib/errors.ts'
import { newId } from '../../../lib/ids.ts'
import { contentHash } from './template.ts'

/** How long a cached answer is served before it is read again: what another instance changed is seen this late at most. */
export const PROMPT_CACHE_MS = 1000
/** Compare-and-set attempts of a label move before it gives up. */
const RETRIES = 5

export const PROMPT_EVENTS = [
  'registry.prompt.version_added',
  'registry.prompt.label_moved',
  'registry.prompt.rolled_back',
] as const
export type PromptEvent = (typeof PROMPT_EVENTS)[number]
export type PromptEventSink = (event: PromptEvent, data: Record<string, unknown>, at: number) => Promise<void> | void

export type VersionInput = {
  template: string
  variables: string[]
  parameters?: Record<string, unknown>
  note?: string
}
export type Selector = { label: string } | { version: number }
export type Resolved = { prompt: Prompt; version: PromptVersion; label: string | null; etag: string }
type Cached = Resolved & { at: number }
export type LabelMove = { label: string; from: number | null; to: number }

export async function getPrompt(db: Db, name: string) {
  const [p] = await db.select().from(prompts).where(eq(prompts.name, name))
  return p
}

export async function loadPrompt(db: Db, name: string) {
  const p = await getPrompt(db, name)
  if (!p) throw notFound('Prompt')
  return p
}

export async function listPrompts(db: Db, q: { limit: number; cursor?: string }) {
  const rows = await db
    .select()
    .from(prompts)
    .where(q.cursor ? gt(prompts.name, q.cursor) : undefined)
    .orderBy(asc(prompts.name))
    .limit(q.limit + 1)
  const items = rows.slice(0, q.limit)
  return { items, next: rows.length > q.limit ? items.at(-1)!.name : null }
}

export async function listVersions(db: Db, promptId: string, q: { limit: number; cursor?: number }) {
  const rows = await db
    .select()
    .from(promptVersions)
    .where(and(eq(promptVersions.promptId, promptId), q.cursor ? lt(promptVersions.version, q.cursor) : undefined))
    .orderBy(desc(promptVersions.version))
    .limit(q.limit + 1)
  const items = rows.slice(0, q.limit)
  return { items, next: rows.length > q.limit ? String(items.at(-1)!.version) : null }
}

export async function getVersion(db: Db, promptId: string, version: number) {
  const [v] = await db
    .select()
    .from(promptVersions)
    .where(and(eq(promptVersions.promptId, promptId), eq(promptVersions.version, version)))
  return v
}

export const labelsOf = (db: Db, promptId: string) =>
  db.select().from(promptLabels).where(eq(promptLabels.promptId, promptId)).orderBy(asc(promptLabels.label))

export async function labelHistory(db: Db, promptId: string, limit = 100) {
  return db
    .select()
    .from(promptLabelEvents)
    .where(eq(promptLabelEvents.promptId, promptId))
    .orderBy(desc(promptLabelEvents.id))
    .limit(limit)
}

/** The version a label points at, or undefined. */
async function labelVersion(db: Db, promptId: string, label: string) {
  const [l] = await db
    .select({ version: promptLabels.version })
    .from(promptLabels)
    .where(and(eq(promptLabels.promptId, promptId), eq(promptLabels.label, label)))
  return l?.version
}

export function createPrompts(deps: { db: Db; onEvent?: PromptEventSink }) {
  const { db } = deps
  const cache = new Map<string, Cached>()
  const invalidate = () => cache.clear()
  const emit = async (event: PromptEvent, data: Record<string, unknown>, at: number) => {
    await deps.onEvent?.(event, data, at)
  }

  /**
   * The version an agent reads, by label or number, from a per-process cache that every write in
   * this process drops and that is read again after PROMPT_CACHE_MS (writes by another instance).
   * The ETag names the prompt's revision and the version's content, so a moved label changes it.
   */
  async function resolve(name: string, sel: Selector, now: number): Promise<Resolved | undefined> {
    const key = 'label' in sel ? `${name}\0l\0${sel.label}` : `${name}\0v\0${sel.version}`
    const hit = cache.get(key)
    if (hit && now - hit.at < PROMPT_CACHE_MS && now >= hit.at) return hit
    const p = await getPrompt(db, name)
    if (!p) return undefined
    const number = 'label' in sel ? await labelVersion(db, p.id, sel.label) : sel.version
    const v = number === undefined ? undefined : await getVersion(db, p.id, number)
    if (!v) {
      cache.delete(key)
      return undefined
    }
    const entry: Cached = {
      at: now,
      prompt: p,
      version: v,
      label: 'label' in sel ? sel.label : null,
      etag: `"${v.version}.${v.hash.slice(0, 16)}"`,
    }
    if (cache.size > 10_000) cache.clear()
    cache.set(key, entry)
    return entry
  }

  async function create(input: { name: string; description?: string }, actor: string, now: number) {
    const row = {
      id: newId(now),
      name: input.name,
      description: input.description ?? '',
      revision: 1,
      createdBy: actor,
      createdAt: now,
      updatedAt: now,
    }
    const inserted = await db.insert(prompts).values(row).onConflictDoNothing().returning()
    if (!inserted.length) throw conflict(`A prompt named ${input.name} already exists`)
    invalidate()
    return inserted[0]!
  }

  /**
   * Adds a version, or answers the one that already has this content (`created: false`): a client
   * retrying after a lost answer gets the same version, not a duplicate. Two writers racing for
   * the next number: the loser reads again and tries once more.
   */
  async function addVersion(p: Prompt, input: VersionInput, author: string, now: number) {
    const parameters = input.parameters ?? {}
    const hash = contentHash({ template: input.template, variables: input.variables, parameters })
    for (let attempt = 0; attempt < RETRIES; attempt++) {
      const [same] = await db
        .select()
        .from(promptVersions)
        .where(and(eq(promptVersions.promptId, p.id), eq(promptVersions.hash, hash)))
      if (same) return { version: same, created: false }
      const [last] = await db
        .select({ version: promptVersions.version })
        .from(promptVersions)
        .where(eq(promptVersions.promptId, p.id))
        .orderBy(desc(promptVersions.version))
        .limit(1)
      const row: PromptVersion = {
        id: newId(now),
        promptId: p.id,
        version: (last?.version ?? 0) + 1,
        template: input.template,
        variables: input.variables,
        parameters,
        author,
        note: input.note ?? '',
        hash,
        createdAt: now,
      }
      try {
        await db.batch([
          db.insert(promptVersions).values(row),
          db
            .update(prompts)
            .set({ revision: sql`${prompts.revision} + 1`, updatedAt: now })
            .where(eq(prompts.id, p.id)),
        ])
      } catch (error) {
        if (isUniqueViolation(error)) continue
        throw error
      }
      invalidate()
      await emit('registry.prompt.version_added', { prompt: p.name, version: row.version, author, note: row.note }, now)
      return { version: row, created: true }
    }
    throw conflict('The prompt changed too often while adding the version; try again')
  }

  /**
   * Points `label` at version `to` (compare-and-set on the label's current version, with its
   * history row in the same batch). Null when it already points there.
   */
  async function moveLabel(
    p: Prompt,
    label: string,
    to: number,
    opts: { actor: string; reason?: string; now: number; event?: PromptEvent },
  ): Promise<LabelMove | null> {
    if (!(await getVersion(db, p.id, to))) throw new AppError(404, 'not_found', `Version ${to} of ${p.name} not found`)
    for (let attempt = 0; attempt < RETRIES; attempt++) {
      const from = (await labelVersion(db, p.id, label)) ?? null
      if (from === to) return null
      const reason = (opts.reason ?? '').slice(0, 500)
      const actor = opts.actor.slice(0, 200)
      const [, moved] = await db.batch([
        db.run(sql`insert into prompt_label_events (prompt_id, label, from_version, to_version, actor, reason, ts)
          select ${p.id}, ${label}, ${from}, ${to}, ${actor}, ${reason}, ${opts.now}
          where ${
            from === null
              ? sql`not exists (select 1 from prompt_labels where prompt_id = ${p.id} and label = ${label})`
              : sql`exists (select 1 from prompt_labels where prompt_id = ${p.id} and label = ${label} and version = ${from})`
          }`),
        from === null
          ? db
              .insert(promptLabels)
              .values({ promptId: p.id, label, version: to, updatedBy: actor, updatedAt: opts.now })
              .onConflictDoNothing()
              .returning({ v: promptLabels.version })
          : db
              .update(promptLabels)
              .set({ version: to, updatedBy: actor, updatedAt: opts.now })
              .where(
                and(eq(promptLabels.promptId, p.id), eq(promptLabels.label, label), eq(promptLabels.version, from)),
              )
              .returning({ v: promptLabels.version }),
        db
          .update(prompts)
          .set({ revision: sql`${prompts.revision} + 1`, updatedAt: opts.now })
          .where(eq(prompts.id, p.id)),
      ])
      invalidate()
      if ((moved as unknown[]).length === 0) continue
      await emit(
        opts.event ?? 'registry.prompt.label_moved',
        { prompt: p.name, label, from, to, actor, reason },
        opts.now,
      )
      return { label, from, to }
    }
    throw conflict(`The label ${label} kept moving; try again`)
  }

  /**
   * Moves a label back: to `to`, or to the highest version below the one it points at now
   * ("previous"). 409 when the label does not exist or there is nothing before it.
   */
  async function rollback(
    name: string,
    label: string,
    to: number | 'previous',
    opts: { actor: string; reason?: string; now: number },
  ): Promise<LabelMove | null> {
    const p = await loadPrompt(db, name)
    const current = await labelVersion(db, p.id, label)
    if (current === undefined) throw conflict(`The prompt ${name} has no label ${label}`)
    let target = to
    if (target === 'previous') {
      const [before] = await db
        .select({ version: promptVersions.version })
        .from(promptVersions)
        .where(and(eq(promptVersions.promptId, p.id), lt(promptVersions.version, current)))
        .orderBy(desc(promptVersions.version))
        .limit(1)
      if (!before) throw conflict(`No version of ${name} before version ${current}`)
      target = before.version
    }
    return moveLabel(p, label, target, { ...opts, event: 'registry.prompt.rolled_back' })
  }

  async function remove(p: Prompt) {
    await db.delete(prompts).where(eq(prompts.id, p.id))
    invalidate()
  }

  return { resolve, invalidate, create, addVersion, moveLabel, rollback, remove }
}

export type Prompts = ReturnType<typeof createPrompts>
