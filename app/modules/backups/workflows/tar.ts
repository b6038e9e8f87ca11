/**
 * A minimal POSIX ustar writer: regular files only, names up to 255 bytes (prefix + name), sizes
 * below 8 GiB. That is all an export of JSON files needs, and small enough not to take a
 * dependency for; GNU tar, bsdtar and Python's tarfile read it.
 */
const BLOCK = 512
const enc = new TextEncoder()

function field(buf: Uint8Array, offset: number, length: number, value: string) {
  buf.set(enc.encode(value).subarray(0, length), offset)
}
const octal = (n: number, width: number) => `${n.toString(8).padStart(width - 1, '0')}\0`

/** Splits a path into ustar's prefix (≤ 155 bytes) and name (≤ 100 bytes) at a slash. */
export function splitPath(path: string): { prefix: string; name: string } {
  if (enc.encode(path).length <= 100) return { prefix: '', name: path }
  for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) {
    const prefix = path.slice(0, i)
    const name = path.slice(i + 1)
    if (enc.encode(prefix).length <= 155 && enc.encode(name).length <= 100) return { prefix, name }
  }
  throw new Error(`path too long for ustar: ${path}`)
}

/** The 512-byte header of a regular file. */
export function tarHeader(path: string, size: number, mtimeMs: number): Uint8Array {
  const h = new Uint8Array(BLOCK)
  const { prefix, name } = splitPath(path)
  field(h, 0, 100, name)
  field(h, 100, 8, octal(0o644, 8))
  field(h, 108, 8, octal(0, 8))
  field(h, 116, 8, octal(0, 8))
  field(h, 124, 12, octal(size, 12))
  field(h, 136, 12, octal(Math.floor(mtimeMs / 1000), 12))
  field(h, 148, 8, '        ') // the checksum counts its own field as spaces
  field(h, 156, 1, '0')
  field(h, 257, 6, 'ustar\0')
  field(h, 263, 2, '00')
  field(h, 345, 155, prefix)
  let sum = 0
  for (const b of h) sum += b
  field(h, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `)
  return h
}

/** One file's blocks: header, data, zero padding to the block size. */
export function tarEntry(path: string, data: Uint8Array, mtimeMs: number): Uint8Array[] {
  const pad = (BLOCK - (data.length % BLOCK)) % BLOCK
  return [tarHeader(path, data.length, mtimeMs), data, new Uint8Array(pad)]
}

/** The end of an archive: two zero blocks. */
export const tarEnd = () => new Uint8Array(BLOCK * 2)
