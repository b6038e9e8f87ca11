/** Models and their versions: idempotent creates (the model id and the version are the client's), reads and JSON shapes. */
import { and, asc, desc, eq, gt } from 'drizzle-orm'
import type { Db } from '../../../../db/client.ts'
import {
  type Model,
  type ModelVersion,
  type ModelVersionStatus,
  models,
  modelVersions,
} from '../../../../db/schema/registry.ts'
import { sha256 } from '../../../lib/crypto.ts'
import { AppError, conflict, notFound } from '../../../lib/errors.ts'
import { newId } from '../../../lib/ids.ts'
import { toIso } from '../../../lib/time.ts'
import type { ModelChange, ModelInput, VersionInput } from './input.ts'
import { validateModelfile } from './modelfile.ts'

/** The tag a version gets on a host: `<model>:<version>` (`+build` becomes `-build`: Ollama tags have no `+`). */
export const versionTag = (modelId: string, version: string) => `${modelId}:${version.replaceAll('+', '-')}`
/** The stable tag agents may call: it is copied from the live version's tag. */
export const liveTag = (modelId: string) => `${modelId}:live`

const sameModel = (row: Model, input: ModelInput) =>
  row.name === (input.name ?? input.id) &&
  row.description === (input.description ?? '') &&
  row.baseModel === input.baseModel &&
  JSON.stringify(row.tags) === JSON.stringify(input.tags ?? []) &&
  row.notes === (input.notes ?? '')

/** Creates a model; a retry of the same create answers the row made the first time (`created: false`), another body is a 409. */
export async function createModel(db: Db, input: ModelInput, by: string, now: number) {
  const inserted = await db
    .insert(models)
    .values({
      id: input.id,
      name: input.name ?? input.id,
      description: input.description ?? '',
      baseModel: input.baseModel,
      tags: input.tags ?? [],
      notes: input.notes ?? '',
      createdBy: by,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoNothing()
    .returning()
  if (inserted.length) return { row: inserted[0]!, created: true }
  const existing = await getModel(db, input.id)
  if (!sameModel(existing, input)) throw conflict(`A model with id ${input.id} already exists with other details`)
  return { row: existing, created: false }
}

export async function getModel(db: Db, id: string) {
  const [row] = await db.select().from(models).where(eq(models.id, id))
  if (!row) throw notFound('Model')
  return row
}

export async function listModels(db: Db, q: { limit: number; cursor?: string }) {
  const rows = await db
    .select()
    .from(models)
    .where(q.cursor ? gt(models.id, q.cursor) : undefined)
    .orderBy(asc(models.id))
    .limit(q.limit + 1)
  const items = rows.slice(0, q.limit)
  return { items, next: rows.length > q.limit ? items.at(-1)!.id : null }
}

export async function updateModel(db: Db, id: string, patch: ModelChange, now: number) {
  const [row] = await db
    .update(models)
    .set({ ...patch, updatedAt: now })
    .where(eq(models.id, id))
    .returning()
  if (!row) throw notFound('Model')
  return row
}

/** A Modelfile that does not pass validation: 422 with every error and its line. */
export function modelfileRefused(errors: { line: number | null; message: string }[]) {
  return new AppError(422, 'invalid_modelfile', `The Modelfile has ${errors.length} error(s)`, {
    field: 'modelfile',
    errors,
  })
}

/**
 * Creates a version after validating its Modelfile (422 naming each bad line). The previous version
 * defaults to the newest one. A retry with the same Modelfile answers the first row; another is a 409.
 */
export async function createVersion(db: Db, model: Model, input: VersionInput, by: string, now: number) {
  const checked = validateModelfile(input.modelfile)
  if (!checked.valid) throw modelfileRefused(checked.errors)
  const hash = sha256(input.modelfile)
  const [existing] = await db
    .select()
    .from(modelVersions)
    .where(and(eq(modelVersions.modelId, model.id), eq(modelVersions.version, input.version)))
  if (existing) {
    if (existing.sha256 !== hash)
      throw conflict(`Version ${input.version} of ${model.id} exists with another Modelfile`)
    return { row: existing, created: false }
  }
  let previous = input.previousVersion
  if (previous === undefined) {
    const [newest] = await db
      .select({ version: modelVersions.version })
      .from(modelVersions)
      .where(eq(modelVersions.modelId, model.id))
      .orderBy(desc(modelVersions.createdAt))
      .limit(1)
    previous = newest?.version ?? null
  } else if (previous !== null) {
    await getVersion(db, model.id, previous).catch(() => {
      throw new AppError(400, 'invalid_input', 'Invalid body', [
        { field: 'previousVersion', message: `no version ${previous} of ${model.id}` },
      ])
    })
  }
  const t = input.training ?? {}
  const inserted = await db
    .insert(modelVersions)
    .values({
      id: newId(now),
      modelId: model.id,
      version: input.version,
      previousVersion: previous,
      modelfile: input.modelfile,
      sha256: hash,
      training: {
        ...(t.source !== undefined ? { source: t.source } : {}),
        ...(t.datasetId !== undefined ? { datasetId: t.datasetId } : {}),
        ...(t.recordCount !== undefined ? { recordCount: t.recordCount } : {}),
        ...(t.trainedAt !== undefined ? { trainedAt: t.trainedAt } : {}),
        ...(t.config !== undefined ? { config: t.config } : {}),
      },
      status: input.status ?? 'ready',
      createdBy: by,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoNothing()
    .returning()
  // Two identical creates at once: the loser answers what the winner wrote.
  if (!inserted.length) return createVersion(db, model, input, by, now)
  return { row: inserted[0]!, created: true }
}

export async function getVersion(db: Db, modelId: string, version: string) {
  const [row] = await db
    .select()
    .from(modelVersions)
    .where(and(eq(modelVersions.modelId, modelId), eq(modelVersions.version, version)))
  if (!row) throw notFound('Model version')
  return row
}

export async function getVersionById(db: Db, id: string) {
  const [row] = await db.select().from(modelVersions).where(eq(modelVersions.id, id))
  if (!row) throw notFound('Model version')
  return row
}

/** Newest first: the version timeline. */
export const listVersions = (db: Db, modelId: string) =>
  db.select().from(modelVersions).where(eq(modelVersions.modelId, modelId)).orderBy(desc(modelVersions.createdAt))

export async function setVersionStatus(db: Db, row: ModelVersion, status: ModelVersionStatus, now: number) {
  const [updated] = await db
    .update(modelVersions)
    .set({ status, updatedAt: now })
    .where(eq(modelVersions.id, row.id))
    .returning()
  return updated ?? row
}

export const modelJson = (m: Model) => ({
  id: m.id,
  name: m.name,
  description: m.description,
  baseModel: m.baseModel,
  tags: m.tags,
  notes: m.notes,
  createdBy: m.createdBy,
  createdAt: toIso(m.createdAt),
  updatedAt: toIso(m.updatedAt),
})

export const versionJson = (r: ModelVersion, opts: { modelfile?: boolean } = {}) => ({
  id: r.id,
  model: r.modelId,
  version: r.version,
  previousVersion: r.previousVersion,
  tag: versionTag(r.modelId, r.version),
  sha256: r.sha256,
  ...(opts.modelfile === false ? {} : { modelfile: r.modelfile }),
  training: {
    ...r.training,
    ...(r.training.trainedAt !== undefined ? { trainedAt: toIso(r.training.trainedAt) } : {}),
  },
  status: r.status,
  createdBy: r.createdBy,
  createdAt: toIso(r.createdAt),
  updatedAt: toIso(r.updatedAt),
})
