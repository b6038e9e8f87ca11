/**
 * The `command` backup source with real commands (tar, sqlite3, head, ls, sleep) from an allow-list
 * file, as BACKUP_COMMANDS_FILE is read in production. No network.
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterAll, describe, expect, it } from 'vitest'
import { backupCommands, checkCommandTarget, commandSource } from '../../app/modules/backups/index.ts'
import { collect, failure, replay } from '../helpers/streams.ts'

const dir = mkdtempSync(join(tmpdir(), 'backup-cmds-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const folder = join(dir, 'folder')
const restored = join(dir, 'restored')
const db = join(dir, 'app.db')
const restoredDb = join(dir, 'restored.db')
mkdirSync(join(folder, 'sub'), { recursive: true })
mkdirSync(restored)
writeFileSync(join(folder, 'a.txt'), 'alpha\n')
writeFileSync(join(folder, 'sub', 'b.bin'), Buffer.alloc(300_000, 7))
const made = spawnSync('sqlite3', [
  db,
  "create table t(id integer primary key, v text); insert into t(v) select 'row ' || value from generate_series(1, 5000);",
])
if (made.status !== 0) throw new Error(`sqlite3 could not make the test database: ${made.stderr}`)

const FIFTY_MB = 50 * 1024 * 1024
const commandsFile = join(dir, 'commands.json')
const commands = {
  folder: {
    argv: ['tar', '-C', folder, '-cf', '-', '.'],
    timeoutMs: 30_000,
    restore: { argv: ['tar', '-C', restored, '-xf', '-'], timeoutMs: 30_000 },
  },
  'app-db': {
    argv: ['sqlite3', db, '.dump'],
    timeoutMs: 30_000,
    restore: { argv: ['sqlite3', restoredDb], timeoutMs: 30_000 },
  },
  big: { argv: ['head', '-c', String(FIFTY_MB), '/dev/zero'], timeoutMs: 120_000 },
  forever: { argv: ['sleep', '30'], timeoutMs: 300 },
  endless: { argv: ['yes', 'backup'], timeoutMs: 60_000 },
  fails: { argv: ['ls', join(dir, 'no-such-file')], timeoutMs: 10_000 },
  chatty: {
    argv: ['ls', ...Array.from({ length: 20 }, (_, i) => `/nope-${i}-${'x'.repeat(1000)}`)],
    timeoutMs: 10_000,
  },
  missing: { argv: ['no-such-program-homeostat'], timeoutMs: 10_000 },
  'bad-restore': {
    argv: ['tar', '-C', folder, '-cf', '-', '.'],
    restore: { argv: ['tar', '-C', join(dir, 'no-such-dir'), '-xf', '-'], timeoutMs: 10_000 },
  },
}
writeFileSync(commandsFile, JSON.stringify({ commands }))
const reader = backupCommands(commandsFile)
const signal = () => new AbortController().signal
// The collector on demand, to measure the memory a stream keeps alive rather than its garbage.
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

describe('command backup source', () => {
  it('backs up a folder with tar and restores it with tar reading stdin', async () => {
    const source = commandSource(reader, { command: 'folder' })
    expect(source.kind).toBe('command')
    const archive = await collect(source.produce(signal()))
    expect(archive.length).toBeGreaterThan(300_000)
    await source.restore!(replay(archive), signal())
    expect(readFileSync(join(restored, 'a.txt'), 'utf8')).toBe('alpha\n')
    expect(readFileSync(join(restored, 'sub', 'b.bin')).equals(Buffer.alloc(300_000, 7))).toBe(true)
  })

  it('backs up a SQLite database with sqlite3 .dump and restores every row into a new file', async () => {
    const source = commandSource(reader, { command: 'app-db' })
    const dump = await collect(source.produce(signal()))
    expect(dump.toString('utf8')).toContain('CREATE TABLE t')
    await source.restore!(replay(dump), signal())
    const count = spawnSync('sqlite3', [restoredDb, 'select count(*), max(v) from t'], { encoding: 'utf8' })
    expect(count.stdout.trim()).toBe('5000|row 999')
  })

  it('streams 50 MB without holding it: memory stays far below the size of the backup', async () => {
    const source = commandSource(reader, { command: 'big' })
    const hash = createHash('sha256')
    // What is still alive, not garbage waiting for the collector: collect, then measure.
    gc()
    const base = process.memoryUsage().arrayBuffers
    let size = 0
    let chunks = 0
    let peak = 0
    for await (const chunk of source.produce(signal())) {
      hash.update(chunk)
      size += chunk.byteLength
      if (++chunks % 64 === 0) {
        gc()
        peak = Math.max(peak, process.memoryUsage().arrayBuffers - base)
      }
    }
    expect(size).toBe(FIFTY_MB)
    const expected = createHash('sha256')
    const zeros = Buffer.alloc(1024 * 1024)
    for (let i = 0; i < 50; i++) expected.update(zeros)
    expect(hash.digest('hex')).toBe(expected.digest('hex'))
    // Buffered whole it would grow to 50 MB; streamed, a few pipe-sized chunks are alive at a time.
    expect(chunks).toBeGreaterThan(64)
    expect(peak).toBeLessThan(8 * 1024 * 1024)
  })

  it('kills a command that outlives its timeout and fails with a clear error', async () => {
    const error = await failure(collect(commandSource(reader, { command: 'forever' }).produce(signal())))
    expect(error.message).toBe('forever timed out after 300 ms and was killed')
  })

  it('fails on a non-zero exit, with the end of stderr', async () => {
    const error = await failure(collect(commandSource(reader, { command: 'fails' }).produce(signal())))
    expect(error.message).toMatch(/^fails exited with 2: .*no-such-file.*No such file or directory/)
  })

  it('keeps only the end of a long stderr', async () => {
    const error = await failure(collect(commandSource(reader, { command: 'chatty' }).produce(signal())))
    expect(error.message).toMatch(/^chatty exited with 2: /)
    expect(error.message.length).toBeLessThan(4096 + 100)
    expect(error.message).toContain('/nope-19-')
  })

  it('fails clearly when the program does not exist', async () => {
    const error = await failure(collect(commandSource(reader, { command: 'missing' }).produce(signal())))
    expect(error.message).toMatch(/^could not start no-such-program-homeostat: .*ENOENT/)
  })

  it('stops the command when the backup is cancelled', async () => {
    const controller = new AbortController()
    let bytes = 0
    const error = await failure(
      (async () => {
        for await (const chunk of commandSource(reader, { command: 'endless' }).produce(controller.signal)) {
          bytes += chunk.byteLength
          if (bytes > 1_000_000) controller.abort()
        }
      })(),
    )
    expect(error.message).toBe('endless was cancelled')
  })

  it('refuses a command that is not in the allow-list, before running anything', async () => {
    const error = await failure(collect(commandSource(reader, { command: 'rm-everything' }).produce(signal())))
    expect(error.message).toBe('rm-everything is not a command in BACKUP_COMMANDS_FILE')
    expect(checkCommandTarget(reader, { command: 'rm-everything' })).toEqual({
      field: 'config.command',
      message: expect.stringMatching(
        /^rm-everything is not a command in BACKUP_COMMANDS_FILE; allowed: folder, app-db/,
      ),
    })
    expect(checkCommandTarget(reader, { command: 'folder' })).toBeUndefined()
  })

  it('is off when BACKUP_COMMANDS_FILE is unset', async () => {
    const off = backupCommands(undefined)
    expect(checkCommandTarget(off, { command: 'folder' })).toEqual({
      field: 'kind',
      message: 'command targets are off (BACKUP_COMMANDS_FILE is not set)',
    })
    const error = await failure(collect(commandSource(off, { command: 'folder' }).produce(signal())))
    expect(error.message).toBe('command targets are off (BACKUP_COMMANDS_FILE is not set)')
  })

  it('names what is wrong in a bad allow-list file', () => {
    const bad = join(dir, 'bad.json')
    writeFileSync(bad, JSON.stringify({ commands: { x: { argv: 'pg_dump app | gzip' } } }))
    expect(checkCommandTarget(backupCommands(bad), { command: 'x' })).toEqual({
      field: 'config.command',
      message: `cannot be checked: BACKUP_COMMANDS_FILE ${bad}: commands.x.argv must be a list of strings`,
    })
    writeFileSync(bad, JSON.stringify({ commands: { x: { argv: ['true'], restore: { argv: [] } } } }))
    utimesSync(bad, new Date(), new Date(Date.now() + 5000))
    expect(() => backupCommands(bad)()).toThrow(/commands\.x\.restore\.argv must name the program/)
  })

  it('refuses a restore where no restore command is listed', async () => {
    const error = await failure(commandSource(reader, { command: 'big' }).restore!(replay(Buffer.from('x')), signal()))
    expect(error.message).toBe('big has no restore command in BACKUP_COMMANDS_FILE; restore it by hand')
  })

  it('fails a restore whose command fails, with its stderr', async () => {
    const source = commandSource(reader, { command: 'bad-restore' })
    const archive = await collect(source.produce(signal()))
    const error = await failure(source.restore!(replay(archive), signal()))
    expect(error.message).toMatch(/^bad-restore \(restore\) .*no-such-dir/)
  })

  it('fails a restore whose backup cannot be read to its end, and stops the command', async () => {
    async function* broken() {
      yield Buffer.from('partial')
      throw new Error('destination went away')
    }
    const error = await failure(commandSource(reader, { command: 'app-db' }).restore!(broken(), signal()))
    expect(error.message).toMatch(
      /^app-db \(restore\) stopped before the whole backup was put back \(destination went away/,
    )
  })
})
