/**
 * Optional encryption of backups (`BACKUP_ENCRYPTION`), with age (the `age-encryption` package; no
 * cryptography of our own). `passphrase:<text>` encrypts with a passphrase (age's scrypt recipient);
 * `AGE-SECRET-KEY-1…` encrypts to that identity's recipient and can decrypt, so every backup is
 * verified whole; `age1…` (a recipient only) encrypts for a key kept off this machine: the server
 * cannot read those backups back, so they are verified before encryption and by their SHA-256 after.
 */
import { Decrypter, Encrypter, identityToRecipient } from 'age-encryption'
import { AppError } from '../../../lib/errors.ts'
import { fromWebStream, toWebStream } from './streams.ts'

export type BackupEncryption =
  | { mode: 'none' }
  | { mode: 'passphrase'; passphrase: string }
  | { mode: 'age'; recipient: string; identity?: string }

/**
 * scrypt work factor for passphrases: 2^16 (64 MiB, about a second), not age's 2^18 (256 MiB),
 * so a snapshot stays inside the server's memory budget. Use a long random passphrase.
 */
const SCRYPT_LOG_N = 16

export const manifestEncryption = (e: BackupEncryption): 'none' | 'passphrase' | 'age' => e.mode

/** BACKUP_ENCRYPTION's value (checked in config.ts) as what it means; the identity's recipient derived. */
export async function parseBackupEncryption(value: string | undefined): Promise<BackupEncryption> {
  if (!value) return { mode: 'none' }
  if (value.startsWith('passphrase:')) return { mode: 'passphrase', passphrase: value.slice('passphrase:'.length) }
  if (value.startsWith('AGE-SECRET-KEY-'))
    return { mode: 'age', recipient: await identityToRecipient(value), identity: value }
  return { mode: 'age', recipient: value }
}

/** Whether this server can decrypt backups written with `e` (to verify or restore them). */
export const canDecrypt = (e: BackupEncryption) => e.mode !== 'age' || Boolean(e.identity)

export async function* encrypt(e: BackupEncryption, body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  if (e.mode === 'none') return yield* body
  const encrypter = new Encrypter()
  if (e.mode === 'passphrase') {
    encrypter.setPassphrase(e.passphrase)
    encrypter.setScryptWorkFactor(SCRYPT_LOG_N)
  } else encrypter.addRecipient(e.recipient)
  yield* fromWebStream(await encrypter.encrypt(toWebStream(body)))
}

/**
 * Decrypts a backup stored with `stored` encryption using the key material in `e`. A wrong
 * passphrase or identity is a 422 `backup_decrypt_failed` that says which setting to check.
 */
export async function* decrypt(
  stored: 'none' | 'passphrase' | 'age',
  e: BackupEncryption,
  body: AsyncIterable<Uint8Array>,
): AsyncIterable<Uint8Array> {
  if (stored === 'none') return yield* body
  const decrypter = new Decrypter()
  if (stored === 'passphrase') {
    if (e.mode !== 'passphrase')
      throw decryptError('it was encrypted with a passphrase; set BACKUP_ENCRYPTION=passphrase:<the passphrase>')
    decrypter.addPassphrase(e.passphrase)
  } else {
    if (e.mode !== 'age' || !e.identity)
      throw decryptError(
        'it was encrypted to an age recipient; set BACKUP_ENCRYPTION to its AGE-SECRET-KEY-1… identity',
      )
    decrypter.addIdentity(e.identity)
  }
  let plain: ReadableStream<Uint8Array>
  try {
    plain = await decrypter.decrypt(toWebStream(body))
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error)
    throw decryptError(
      stored === 'passphrase'
        ? `the passphrase in BACKUP_ENCRYPTION is not the one it was encrypted with (${why})`
        : `the identity in BACKUP_ENCRYPTION is not one it was encrypted to (${why})`,
    )
  }
  try {
    yield* fromWebStream(plain)
  } catch (error) {
    // The header matched but a chunk did not authenticate: the file was changed or cut short.
    throw decryptError(`its encrypted data is damaged (${error instanceof Error ? error.message : String(error)})`)
  }
}

export const decryptError = (why: string) =>
  new AppError(422, 'backup_decrypt_failed', `Cannot decrypt the backup: ${why}`)
