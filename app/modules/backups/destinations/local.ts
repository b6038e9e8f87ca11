/**
 * A folder on this machine (default `$DATA_DIR/backups`). Writes are atomic: the bytes go to a
 * temporary name beside the final one, are fsynced, then renamed into place and the folder fsynced,
 * so a process killed mid-write (kill -9, power loss) leaves at most a `*.partial` file, never a file
 * under the final name that looks whole. Keys are relative paths; `..` and absolute paths are refused.
 */
import { createReadStream } from 'node:fs'
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises'
import { basename, dirname, join, relative, resolve, sep } from 'node:path'
import { randomToken } from '../../../lib/ids.ts'
import type { BackupDestination } from './types.ts'

export const PARTIAL_SUFFIX = '.partial'

export function localDestination(root: string): BackupDestination {
  const base = resolve(root)
  const pathOf = (key: string) => {
    const path = resolve(base, key)
    if (!key || path === base || !path.startsWith(base + sep)) throw new Error(`Bad backup key: ${key}`)
    return path
  }
  const fsyncDir = async (dir: string) => {
    // Makes the rename itself durable; some platforms cannot open a folder for fsync, which is harmless.
    const handle = await open(dir, 'r').catch(() => null)
    await handle?.sync().catch(() => {})
    await handle?.close()
  }
  return {
    kind: 'local',
    async put(key, body) {
      const path = pathOf(key)
      await mkdir(dirname(path), { recursive: true })
      const temp = `${path}.${randomToken(6)}${PARTIAL_SUFFIX}`
      const handle = await open(temp, 'wx')
      let size = 0
      try {
        for await (const chunk of body) {
          await handle.write(chunk)
          size += chunk.byteLength
        }
        await handle.sync()
      } catch (error) {
        await handle.close()
        await rm(temp, { force: true })
        throw error
      }
      await handle.close()
      await rename(temp, path)
      await fsyncDir(dirname(path))
      return { size }
    },
    async *get(key) {
      yield* createReadStream(pathOf(key)) as AsyncIterable<Uint8Array>
    },
    async remove(key) {
      await rm(pathOf(key), { force: true })
    },
    async list(prefix) {
      const start = prefix ? resolve(base, prefix.replace(/[^/]*$/, '')) : base
      if (start !== base && !start.startsWith(base + sep)) return []
      const entries = await readdir(start, { recursive: true, withFileTypes: true }).catch(() => [])
      const out: { key: string; size: number }[] = []
      for (const entry of entries) {
        if (!entry.isFile() || entry.name.endsWith(PARTIAL_SUFFIX)) continue
        const full = join(entry.parentPath, entry.name)
        const key = relative(base, full).split(sep).join('/')
        if (!key.startsWith(prefix)) continue
        out.push({ key, size: (await stat(full)).size })
      }
      return out.sort((a, b) => a.key.localeCompare(b.key))
    },
  }
}

/** Removes `*.partial` files older than `olderThanMs` (left by a process killed mid-write). */
export async function removeStalePartials(root: string, olderThanMs: number, now: number): Promise<number> {
  const entries = await readdir(resolve(root), { recursive: true, withFileTypes: true }).catch(() => [])
  let removed = 0
  for (const entry of entries) {
    if (!entry.isFile() || !entry.name.endsWith(PARTIAL_SUFFIX)) continue
    const full = join(entry.parentPath, entry.name)
    const info = await stat(full).catch(() => null)
    if (info && info.mtimeMs < now - olderThanMs) {
      await rm(full, { force: true })
      removed++
    }
  }
  return removed
}

/** Removes the `*.partial` files of one key (a backup a killed process left half-written). */
export async function removePartialsOf(root: string, key: string): Promise<number> {
  const path = resolve(root, key)
  if (!path.startsWith(resolve(root) + sep)) return 0
  const prefix = `${basename(path)}.`
  const entries = await readdir(dirname(path)).catch(() => [] as string[])
  let removed = 0
  for (const name of entries) {
    if (!name.startsWith(prefix) || !name.endsWith(PARTIAL_SUFFIX)) continue
    await rm(join(dirname(path), name), { force: true })
    removed++
  }
  return removed
}
