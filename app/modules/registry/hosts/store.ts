/** Ollama hosts: registered with an optional auth header whose value is sealed at rest and never returned. */
import { asc, eq, or } from 'drizzle-orm'
import type { Db } from '../../../../db/client.ts'
import { ollamaHosts, type OllamaHost } from '../../../../db/schema/registry.ts'
import type { Sealer } from '../../../lib/crypto.ts'
import { conflict, notFound } from '../../../lib/errors.ts'
import { newId } from '../../../lib/ids.ts'
import { toIso } from '../../../lib/time.ts'
import type { HostChange, HostInput } from './input.ts'

/** Where a host's sealed auth header value lives (AAD): it opens in this row and field only. */
export const hostAuthAad = (id: string) => `ollama_hosts:${id}:auth_header_value`

export async function createHost(deps: { db: Db; sealer: Sealer }, input: HostInput, now: number) {
  const id = newId(now)
  const rows = await deps.db
    .insert(ollamaHosts)
    .values({
      id,
      name: input.name,
      url: input.url,
      authHeaderName: input.authHeader?.name ?? null,
      authHeaderValue: input.authHeader ? deps.sealer.seal(input.authHeader.value, hostAuthAad(id)) : null,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoNothing()
    .returning()
  if (!rows.length) throw conflict(`An Ollama host named ${input.name} already exists`)
  return rows[0]!
}

export async function updateHost(deps: { db: Db; sealer: Sealer }, before: OllamaHost, patch: HostChange, now: number) {
  const set: Partial<OllamaHost> = { updatedAt: now }
  if (patch.url !== undefined) set.url = patch.url
  if (patch.authHeader === null || (patch.url !== undefined && patch.url !== before.url && !patch.authHeader)) {
    set.authHeaderName = null
    set.authHeaderValue = null
  }
  if (patch.authHeader) {
    set.authHeaderName = patch.authHeader.name
    set.authHeaderValue = deps.sealer.seal(patch.authHeader.value, hostAuthAad(before.id))
  }
  const [row] = await deps.db.update(ollamaHosts).set(set).where(eq(ollamaHosts.id, before.id)).returning()
  return row ?? before
}

export const listHosts = (db: Db) => db.select().from(ollamaHosts).orderBy(asc(ollamaHosts.name))

/** By id or by name (the API and the deploy body accept either). */
export async function getHost(db: Db, idOrName: string) {
  const [row] = await db
    .select()
    .from(ollamaHosts)
    .where(or(eq(ollamaHosts.id, idOrName), eq(ollamaHosts.name, idOrName)))
  if (!row) throw notFound('Ollama host')
  return row
}

export const deleteHost = (db: Db, id: string) => db.delete(ollamaHosts).where(eq(ollamaHosts.id, id))

/** The headers every call to the host carries (the auth header opened here, only to be sent). */
export function hostHeaders(sealer: Sealer, h: OllamaHost): Record<string, string> {
  if (!h.authHeaderName || !h.authHeaderValue) return {}
  return { [h.authHeaderName]: sealer.open(h.authHeaderValue, hostAuthAad(h.id)) }
}

/** What the API shows: the auth header's name and whether it is set, never its value. */
export const hostJson = (h: OllamaHost) => ({
  id: h.id,
  name: h.name,
  url: h.url,
  authHeader: h.authHeaderName ? { name: h.authHeaderName, set: true } : null,
  createdAt: toIso(h.createdAt),
  updatedAt: toIso(h.updatedAt),
})
