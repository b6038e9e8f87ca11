/**
 * The guarded stores use `node:http` (through the outbound helper), `node:child_process` and the
 * AWS SDK: Bun and Deno implement those themselves, so tests/e2e/stores-check.ts runs under each of
 * the three runtimes against s3rver (in this process) and a Qdrant stand-in, all on 127.0.0.1, and
 * must give the same results.
 */
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { startS3 } from '../helpers/s3-server.ts'
import { BUN, DENO, killAll, ROOT, run, tempData } from '../helpers/server.ts'

const s3 = await startS3(['backups'])
afterAll(async () => {
  await killAll()
  await s3.close()
})

const script = 'tests/e2e/stores-check.ts'
const commands: Record<string, [string, string[]]> = {
  node: [join(ROOT, 'node_modules/.bin/tsx'), [script]],
  bun: [BUN, [script]],
  deno: [
    DENO,
    ['run', '--allow-net', '--allow-read', '--allow-write', '--allow-env', '--allow-sys', '--allow-run', script],
  ],
}

const expected = {
  s3Put: { size: 10 * 1024 * 1024 },
  s3Get: 10 * 1024 * 1024,
  s3List: [{ key: 'x.bin', size: 10 * 1024 * 1024 }],
  s3AfterRemove: [],
  s3Refused: 'refused',
  qdrantProduced: true,
  qdrantRestored: true,
  qdrantRefused: 'refused',
  commandBytes: 3_000_000,
  commandRefused: 'rm is not a command in BACKUP_COMMANDS_FILE',
}

describe('guarded stores on every runtime', () => {
  it.each(Object.keys(commands))('%s', async (runtime) => {
    const { dir } = tempData('homeostat-stores-')
    const [command, args] = commands[runtime]!
    const result = await run(command, args, { S3_ENDPOINT: s3.endpoint, SCRATCH_DIR: dir }, 90_000)
    expect(result.code, result.stderr).toBe(0)
    const last = result.stdout.trim().split('\n').at(-1) ?? ''
    expect(JSON.parse(last)).toEqual(expected)
  })
})
