/** Aliases (`production`, `canary`, …) → a version; model routes naming `alias:<model>/<alias>` follow them. */
import { and, asc, eq, inArray } from 'drizzle-orm'
import type { Db } from '../../../../db/client.ts'
import { modelAliases, modelVersions } from '../../../../db/schema/registry.ts'
import { notFound } from '../../../lib/errors.ts'
import { toIso } from '../../../lib/time.ts'
import { versionTag } from './store.ts'

export const ALIAS_PREFIX = 'alias:'

/** `alias:<model>/<alias>` → its parts, or null for any other model name. */
export function parseAliasRef(model: string): { modelId: string; alias: string } | null {
  if (!model.startsWith(ALIAS_PREFIX)) return null
  const m = /^([a-z0-9][a-z0-9._-]{0,62})\/([a-z0-9][a-z0-9._-]{0,62})$/.exec(model.slice(ALIAS_PREFIX.length))
  return m ? { modelId: m[1]!, alias: m[2]! } : null
}

export async function listAliases(db: Db, modelId: string) {
  return db
    .select({ alias: modelAliases, version: modelVersions.version })
    .from(modelAliases)
    .innerJoin(modelVersions, eq(modelVersions.id, modelAliases.versionId))
    .where(eq(modelAliases.modelId, modelId))
    .orderBy(asc(modelAliases.name))
}

export async function getAlias(db: Db, modelId: string, name: string) {
  const [row] = await db
    .select({ alias: modelAliases, version: modelVersions.version })
    .from(modelAliases)
    .innerJoin(modelVersions, eq(modelVersions.id, modelAliases.versionId))
    .where(and(eq(modelAliases.modelId, modelId), eq(modelAliases.name, name)))
  if (!row) throw notFound('Alias')
  return row
}

/** The statement that points an alias at a version (made or moved). */
export const upsertAlias = (
  db: Db,
  a: { modelId: string; name: string; versionId: string; by: string; at: number; reason: string },
) =>
  db
    .insert(modelAliases)
    .values({
      modelId: a.modelId,
      name: a.name,
      versionId: a.versionId,
      movedBy: a.by,
      movedAt: a.at,
      reason: a.reason,
    })
    .onConflictDoUpdate({
      target: [modelAliases.modelId, modelAliases.name],
      set: { versionId: a.versionId, movedBy: a.by, movedAt: a.at, reason: a.reason },
    })

/** Aliases of a model pointing at one of these versions (a rollback moves them along). */
export const aliasesOn = (db: Db, modelId: string, versionIds: string[]) =>
  db
    .select()
    .from(modelAliases)
    .where(and(eq(modelAliases.modelId, modelId), inArray(modelAliases.versionId, versionIds)))

/** What an `alias:<model>/<alias>` names now: the version's tag on the hosts (`<model>:<version>`), or null. */
export async function resolveAliasRef(db: Db, model: string): Promise<string | null> {
  const ref = parseAliasRef(model)
  if (!ref) return null
  const [row] = await db
    .select({ version: modelVersions.version })
    .from(modelAliases)
    .innerJoin(modelVersions, eq(modelVersions.id, modelAliases.versionId))
    .where(and(eq(modelAliases.modelId, ref.modelId), eq(modelAliases.name, ref.alias)))
  return row ? versionTag(ref.modelId, row.version) : null
}

export const aliasJson = (r: { alias: typeof modelAliases.$inferSelect; version: string }) => ({
  model: r.alias.modelId,
  name: r.alias.name,
  version: r.version,
  tag: versionTag(r.alias.modelId, r.version),
  ref: `${ALIAS_PREFIX}${r.alias.modelId}/${r.alias.name}`,
  movedBy: r.alias.movedBy,
  movedAt: toIso(r.alias.movedAt),
  reason: r.alias.reason,
})
