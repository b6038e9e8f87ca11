import { desc, eq, lt, or } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { apiKeys, type ApiKey, type Role } from '../../../db/schema/auth.ts'
import { sha256 } from '../../lib/crypto.ts'
import { newId, randomToken } from '../../lib/ids.ts'
import { page } from '../../lib/pagination.ts'
import { notFound } from '../../lib/errors.ts'

export const KEY_PREFIX = 'hs_'
export { keyScopes } from '../../lib/route-meta.ts'

export type NewKey = {
  name: string
  role: Role
  scopes: string[]
  source?: string | null
  expiresAt?: number | null
  createdBy?: string | null
}

/** Creates a key: `hs_<8 hex>_<secret>`. Only its hash is stored; the key is returned once. */
export async function createApiKey(db: Db, input: NewKey, now = Date.now()) {
  const prefix = `${KEY_PREFIX}${randomToken(6).replace(/[-_]/g, 'x').slice(0, 8).toLowerCase()}`
  const key = `${prefix}_${randomToken(32)}`
  const [row] = await db
    .insert(apiKeys)
    .values({
      id: newId(now),
      prefix,
      keyHash: sha256(key),
      name: input.name,
      role: input.role,
      scopes: input.scopes,
      source: input.source ?? null,
      createdBy: input.createdBy ?? null,
      createdAt: now,
      expiresAt: input.expiresAt ?? null,
    })
    .returning()
  return { key, row: row! }
}

export async function listApiKeys(db: Db, { limit, cursor }: { limit: number; cursor?: string }) {
  const rows = await db
    .select()
    .from(apiKeys)
    .where(cursor ? lt(apiKeys.id, cursor) : undefined)
    .orderBy(desc(apiKeys.id))
    .limit(limit + 1)
  return page(rows, limit, (r) => r.id)
}

export async function revokeApiKey(db: Db, idOrPrefix: string, now = Date.now()) {
  const [row] = await db
    .select()
    .from(apiKeys)
    .where(or(eq(apiKeys.id, idOrPrefix), eq(apiKeys.prefix, idOrPrefix)))
  if (!row) throw notFound('API key')
  if (row.revokedAt) return row
  const [updated] = await db.update(apiKeys).set({ revokedAt: now }).where(eq(apiKeys.id, row.id)).returning()
  return updated!
}

/** How a key is described in the audit log. */
export const keySummary = (k: ApiKey) =>
  `${k.name}, role ${k.role}${k.scopes.length ? `, scopes ${k.scopes.join(',')}` : ''}${k.source ? `, source ${k.source}` : ''}`

export const publicKey = (k: ApiKey) => ({
  id: k.id,
  prefix: k.prefix,
  name: k.name,
  role: k.role,
  scopes: k.scopes,
  source: k.source,
  createdBy: k.createdBy,
  createdAt: new Date(k.createdAt).toISOString(),
  lastUsedAt: k.lastUsedAt ? new Date(k.lastUsedAt).toISOString() : null,
  expiresAt: k.expiresAt ? new Date(k.expiresAt).toISOString() : null,
  revokedAt: k.revokedAt ? new Date(k.revokedAt).toISOString() : null,
})

export type KeyCheck = { ok: true; key: ApiKey } | { ok: false; reason: 'invalid' | 'revoked' | 'expired' }

/**
 * Resolves a presented key. A SHA-256 of a high-entropy key needs no KDF; results are cached for a
 * few seconds, by the presented key itself, so an authenticated request costs neither a query nor a
 * hash (and `check` answers without a promise then). Revoking here invalidates at once; a
 * revocation by another instance sharing the database takes effect within `ttlMs`.
 */
export function createKeyStore(db: Db, { ttlMs = 10_000, touchEveryMs = 60_000 } = {}) {
  const cache = new Map<string, { row: ApiKey | null; at: number }>()

  function verdict(row: ApiKey | null, now: number): KeyCheck {
    if (!row) return { ok: false, reason: 'invalid' }
    if (row.revokedAt) return { ok: false, reason: 'revoked' }
    if (row.expiresAt && row.expiresAt <= now) return { ok: false, reason: 'expired' }
    if (!row.lastUsedAt || now - row.lastUsedAt > touchEveryMs) {
      row.lastUsedAt = now // written at most once a minute per key, off the request's path
      db.update(apiKeys)
        .set({ lastUsedAt: now })
        .where(eq(apiKeys.id, row.id))
        .catch(() => {})
    }
    return { ok: true, key: row }
  }

  async function load(presented: string, now: number): Promise<KeyCheck> {
    const [row] = await db
      .select()
      .from(apiKeys)
      .where(eq(apiKeys.keyHash, sha256(presented)))
    if (cache.size > 10_000) cache.clear()
    cache.set(presented, { row: row ?? null, at: now })
    return verdict(row ?? null, now)
  }

  function check(presented: string, now = Date.now()): KeyCheck | Promise<KeyCheck> {
    const hit = cache.get(presented)
    return hit && now - hit.at <= ttlMs ? verdict(hit.row, now) : load(presented, now)
  }

  const forget = (keyId: string) => {
    for (const [presented, entry] of cache) if (entry.row?.id === keyId) cache.delete(presented)
  }
  return { check, forget }
}
export type KeyStore = ReturnType<typeof createKeyStore>
