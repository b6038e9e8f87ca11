import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomToken } from './ids.ts'

/** SECRET_KEY from the environment, or one generated once into the data folder (mode 0600). */
export function loadSecretKey(given: string | undefined, dataDir: string): { key: string; generated: boolean } {
  if (given) return { key: given, generated: false }
  const file = join(dataDir, 'secret.key')
  if (existsSync(file)) return { key: readFileSync(file, 'utf8').trim(), generated: false }
  mkdirSync(dataDir, { recursive: true })
  const key = randomToken(48)
  writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' })
  return { key, generated: true }
}
