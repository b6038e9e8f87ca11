import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core'

export const backupSourceKinds = ['homeostat', 'qdrant', 'command'] as const
export type BackupSourceKind = (typeof backupSourceKinds)[number]
export const backupDestinationKinds = ['local', 's3'] as const
export type BackupDestinationKind = (typeof backupDestinationKinds)[number]

/**
 * What to back up, where to, when, and how many to keep. `config` and `destinationConfig` hold
 * secret fields (API keys, S3 secret keys) sealed with the sealer; the API masks them.
 */
export const backupTargets = sqliteTable('backup_targets', {
  id: text('id').primaryKey(),
  name: text('name').notNull().unique(),
  kind: text('kind', { enum: backupSourceKinds }).notNull(),
  config: text('config', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
  destinationKind: text('destination_kind', { enum: backupDestinationKinds }).notNull().default('local'),
  destinationConfig: text('destination_config', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
  /** Croner pattern (five fields, or six with seconds). */
  schedule: text('schedule').notNull(),
  keepLast: integer('keep_last').notNull().default(7),
  keepDaily: integer('keep_daily').notNull().default(7),
  keepWeekly: integer('keep_weekly').notNull().default(4),
  keepMonthly: integer('keep_monthly').notNull().default(6),
  enabled: integer('enabled', { mode: 'boolean' }).notNull().default(true),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
})

export const backupStatuses = ['running', 'good', 'failed', 'pruned'] as const
export type BackupStatus = (typeof backupStatuses)[number]

/** What a snapshot of Homeostat's database holds, written beside its file and kept in its row (see docs/backups.md). */
export type BackupManifest = {
  format: 1
  id: string
  target: string
  kind: BackupSourceKind
  createdAt: string
  /** Bytes stored at the destination (compressed, and encrypted when set) and their SHA-256. */
  size: number
  sha256: string
  compression: 'gzip'
  encryption: 'none' | 'passphrase' | 'age'
  /** Migrations applied to the snapshot's database, and the last one's name. */
  schemaVersion: number
  lastMigration: string | null
  rowCounts: Record<string, number>
  homeostatVersion: string
  /** Bytes of the uncompressed database file. */
  databaseBytes: number
  /**
   * SHA-256 of the uncompressed database file, the very bytes that passed `PRAGMA integrity_check` and
   * were counted when the snapshot was taken (absent in manifests written before it was recorded).
   */
  databaseSha256?: string
}

/**
 * What a backup of a guarded store (a Qdrant collection, a command's output) holds: the bytes as the
 * source made them (encrypted when set), with no row counts, since only the source can read them.
 */
export type StoreManifest = {
  format: 1
  id: string
  target: string
  kind: 'qdrant' | 'command'
  createdAt: string
  size: number
  sha256: string
  compression: 'none'
  encryption: 'none' | 'passphrase' | 'age'
  /** What the bytes came from: the collection and node, or the command's name (never its argv or secrets). */
  source: { url?: string; collection?: string; command?: string }
  homeostatVersion: string
}

export const backupPhases = ['snapshot', 'compress', 'upload', 'verify'] as const
export type BackupPhase = (typeof backupPhases)[number]

/**
 * One backup: a row is written `running` before any byte is produced and becomes `good` only once
 * the stored copy was read back and verified, so a process killed half-way leaves `running` (then
 * `failed` at the next tick), never a good-looking backup.
 */
export const backups = sqliteTable(
  'backups',
  {
    id: text('id').primaryKey(),
    targetId: text('target_id').references(() => backupTargets.id, { onDelete: 'set null' }),
    targetName: text('target_name').notNull(),
    kind: text('kind', { enum: backupSourceKinds }).notNull(),
    status: text('status', { enum: backupStatuses }).notNull(),
    trigger: text('trigger', { enum: ['schedule', 'manual', 'cli'] }).notNull(),
    destinationKind: text('destination_kind', { enum: backupDestinationKinds }).notNull(),
    /** The key at the destination (e.g. `homeostat/01J….db.gz.age`). */
    location: text('location').notNull(),
    size: integer('size'),
    sha256: text('sha256'),
    encryption: text('encryption', { enum: ['none', 'passphrase', 'age'] })
      .notNull()
      .default('none'),
    manifest: text('manifest', { mode: 'json' }).$type<BackupManifest | StoreManifest>(),
    error: text('error'),
    createdBy: text('created_by').notNull(),
    startedAt: integer('started_at').notNull(),
    finishedAt: integer('finished_at'),
    durationMs: integer('duration_ms'),
    verifiedAt: integer('verified_at'),
    verifyMs: integer('verify_ms'),
    /** Progress of a running backup, written at most every ~500 ms: the page polls it. */
    phase: text('phase', { enum: backupPhases }),
    bytesDone: integer('bytes_done'),
    /**
     * Refreshed every few seconds by the process making a `running` backup: one not refreshed for
     * 30 s was cut off (kill -9, power loss) and is marked failed by the next instance that looks.
     */
    heartbeatAt: integer('heartbeat_at'),
  },
  (t) => [index('backups_target_started').on(t.targetId, t.startedAt), index('backups_started').on(t.startedAt)],
)

export const restoreKinds = ['live', 'drill'] as const
export const restoreStatuses = ['pending', 'approved', 'running', 'done', 'failed', 'rejected', 'expired'] as const

/**
 * A restore of a backup: a live one (`POST /api/v1/backups/:id/restore`) waits `pending` for a
 * second admin's approval; a drill (restore into a scratch file and verify) runs at once. The
 * latest drill's duration is the "restore takes ≈ N s" on the page.
 */
export const backupRestores = sqliteTable(
  'backup_restores',
  {
    id: text('id').primaryKey(),
    backupId: text('backup_id').notNull(),
    kind: text('kind', { enum: restoreKinds }).notNull(),
    status: text('status', { enum: restoreStatuses }).notNull(),
    requestedBy: text('requested_by').notNull(),
    requestedByName: text('requested_by_name').notNull(),
    approvedBy: text('approved_by'),
    approvedByName: text('approved_by_name'),
    reason: text('reason').notNull().default(''),
    error: text('error'),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at'),
    startedAt: integer('started_at'),
    finishedAt: integer('finished_at'),
    durationMs: integer('duration_ms'),
    /** Where the replaced database file was kept (a live restore). */
    keptAs: text('kept_as'),
    /** Bytes of the backup read back so far while a restore runs (the page polls it). */
    bytesDone: integer('bytes_done'),
  },
  (t) => [index('backup_restores_created').on(t.createdAt)],
)

export type BackupTarget = typeof backupTargets.$inferSelect
export type NewBackupTarget = typeof backupTargets.$inferInsert
export type Backup = typeof backups.$inferSelect
export type BackupRestore = typeof backupRestores.$inferSelect
