/** n8n instances the `n8n` action calls: base URL and a sealed API key (never returned). */
import { asc, eq } from 'drizzle-orm'
import type { Db } from '../../../../db/client.ts'
import { n8nInstances, type N8nInstance } from '../../../../db/schema/healing.ts'
import { type Sealer, mask } from '../../../lib/crypto.ts'
import { isUniqueViolation } from '../../../lib/db-errors.ts'
import { AppError, badRequest, conflict, notFound } from '../../../lib/errors.ts'
import { newId } from '../../../lib/ids.ts'
import { toIso } from '../../../lib/time.ts'

/** Where an instance's sealed API key lives (AAD): it opens in this row only, never copied into another. */
export const n8nApiKeyAad = (id: string) => `n8n_instances:${id}:api_key`

/** The API key in the clear, to call the instance; a key that does not open in this row is a 409 saying so. */
export function openN8nApiKey(sealer: Sealer, r: N8nInstance): string {
  try {
    return sealer.open(r.apiKey, n8nApiKeyAad(r.id))
  } catch {
    throw new AppError(
      409,
      'secrets_unreadable',
      `The API key of n8n instance ${r.name} cannot be opened (sealed for another row, or with another SECRET_KEY): give it again`,
    )
  }
}

export const n8nInstanceJson = (sealer: Sealer, r: N8nInstance) => {
  let apiKey = '(unreadable)'
  try {
    apiKey = mask(sealer.open(r.apiKey, n8nApiKeyAad(r.id)))
  } catch {
    // sealed with another SECRET_KEY, or for another row
  }
  return {
    id: r.id,
    name: r.name,
    baseUrl: r.baseUrl,
    apiKey,
    createdAt: toIso(r.createdAt),
    updatedAt: toIso(r.updatedAt),
  }
}

const unique = (error: unknown) => isUniqueViolation(error, 'n8n_instances.name')

export const listN8nInstances = (db: Db) => db.select().from(n8nInstances).orderBy(asc(n8nInstances.name))

export async function getN8nInstance(db: Db, id: string) {
  const [row] = await db.select().from(n8nInstances).where(eq(n8nInstances.id, id))
  if (!row) throw notFound('n8n instance')
  return row
}

/** The `check` of every action whose target is an n8n instance's name: the instance must exist. */
export const checkN8nInstanceTarget = async (deps: { db: Db }, target: string) =>
  (await findN8nInstance(deps.db, target)) ? undefined : { field: 'target', message: `no n8n instance named ${target}` }

export const findN8nInstance = async (db: Db, name: string) =>
  (await db.select().from(n8nInstances).where(eq(n8nInstances.name, name)))[0]

export async function createN8nInstance(
  db: Db,
  sealer: Sealer,
  input: { name: string; baseUrl: string; apiKey: string },
  now: number,
) {
  const id = newId(now)
  const row: N8nInstance = {
    id,
    name: input.name,
    baseUrl: input.baseUrl.replace(/\/+$/, ''),
    apiKey: sealer.seal(input.apiKey, n8nApiKeyAad(id)),
    createdAt: now,
    updatedAt: now,
  }
  try {
    await db.insert(n8nInstances).values(row)
  } catch (error) {
    if (unique(error)) throw conflict(`An n8n instance named ${input.name} already exists`)
    throw error
  }
  return row
}

export async function updateN8nInstance(
  db: Db,
  sealer: Sealer,
  before: N8nInstance,
  patch: { name?: string; baseUrl?: string; apiKey?: string },
  now: number,
) {
  const baseUrl = patch.baseUrl?.replace(/\/+$/, '')
  // The API key is sent to the base URL: moving the instance without the key again would let an
  // operator point it at their own server and receive the stored key on the next call.
  if (baseUrl !== undefined && baseUrl !== before.baseUrl && patch.apiKey === undefined)
    throw badRequest('Changing the base URL needs the API key again', [
      { field: 'apiKey', message: 'must be given again when the base URL changes' },
    ])
  const set = {
    ...(patch.name !== undefined ? { name: patch.name } : {}),
    ...(baseUrl !== undefined ? { baseUrl } : {}),
    ...(patch.apiKey !== undefined ? { apiKey: sealer.seal(patch.apiKey, n8nApiKeyAad(before.id)) } : {}),
    updatedAt: now,
  }
  try {
    const [row] = await db.update(n8nInstances).set(set).where(eq(n8nInstances.id, before.id)).returning()
    return row!
  } catch (error) {
    if (unique(error)) throw conflict(`An n8n instance named ${patch.name} already exists`)
    throw error
  }
}

export const deleteN8nInstance = (db: Db, id: string) => db.delete(n8nInstances).where(eq(n8nInstances.id, id))
