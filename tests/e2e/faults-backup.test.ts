/**
 * Faults, backups: a backup of the database is killed with SIGKILL while its file is being written
 * (a `*.partial` file exists in the backup folder). After a restart on the same database: the
 * half-made backup is never listed as good; once its heartbeat is stale it is marked failed with the
 * reason, its partial file and scratch copy are removed, and the next backup is made and verified.
 * The database carries 40 MB of incompressible ballast so the write takes long enough to be caught.
 */
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { api, hardKill, openDbFile, restart, scalar, startFaultServer } from '../helpers/faults.ts'
import { cliKey, delay, killAll, until } from '../helpers/server.ts'

afterAll(() => killAll())

/** Files under `dir` (recursively) whose name matches `pattern`. */
const filesLike = (dir: string, pattern: RegExp) =>
  (readdirSync(dir, { recursive: true }) as string[]).filter((f) => pattern.test(f))

describe('a backup across a hard kill', () => {
  it('leaves no half-written backup listed as good, cleans up, and the next backup works', async () => {
    const first = await startFaultServer()
    const operator = await cliKey(first, 'backup-operator', 'operator')
    const ballast = openDbFile(first)
    await ballast.execute('create table fault_ballast (b blob)')
    for (let i = 0; i < 40; i++) await ballast.execute('insert into fault_ballast values (randomblob(1048576))')
    ballast.close()

    const started = await api(first, operator)('POST', '/api/v1/backups', { target: 'homeostat' })
    expect(started.status, started.text).toBe(202)
    const id = started.json.id as string
    // Kill as soon as the backup file is being written.
    await until(
      'a partial backup file',
      () => (filesLike(first.dir, /\.partial$/).length ? true : undefined),
      30_000,
      2,
    )
    await hardKill(first)
    expect(filesLike(first.dir, /\.partial$/).length).toBeGreaterThan(0)

    const second = await restart(first)
    const call = api(second, operator)
    const half = await call('GET', `/api/v1/backups/${id}`)
    expect(half.json.status).not.toBe('good')
    const list = await call('GET', '/api/v1/backups?status=good')
    expect(list.json.items.map((b: { id: string }) => b.id)).not.toContain(id)

    // The dead process's heartbeat goes stale (30 s); the next backup marks it failed, then runs.
    const db = openDbFile(second)
    try {
      const beat = await scalar(db, 'select coalesce(heartbeat_at, started_at) from backups where id = ?', [id])
      await delay(Math.max(0, beat + 31_000 - Date.now()))
    } finally {
      db.close()
    }
    const next = await call('POST', '/api/v1/backups', { target: 'homeostat', wait: true })
    expect(next.status, next.text).toBe(201)
    expect(next.json.status).toBe('good')
    const failed = await call('GET', `/api/v1/backups/${id}`)
    expect(failed.json).toMatchObject({ status: 'failed', error: expect.stringMatching(/^interrupted: the process/) })
    expect(filesLike(second.dir, /\.partial$/)).toEqual([])
    expect(filesLike(second.dir, /^\.snapshot-/)).toEqual([])
    const verified = await call('POST', `/api/v1/backups/${next.json.id}/verify`)
    expect(verified.status, verified.text).toBe(200)
  }, 110_000)
})
