/**
 * IP address parsing and the special-purpose ranges the outbound policy refuses. Written out here
 * rather than taken from `node:net`'s BlockList so it behaves the same on Node, Bun and Deno, and so
 * addresses that carry an IPv4 address inside an IPv6 one are judged by the IPv4 address they carry.
 */

/** An address as bytes: 4 for IPv4, 16 for IPv6. */
export type IpBytes = Uint8Array

/** Why an address is not a public unicast destination; null when it is one. */
export type AddressClass =
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'unique-local'
  | 'shared' // carrier-grade NAT, 100.64.0.0/10
  | 'metadata'
  | 'multicast'
  | 'broadcast'
  | 'reserved'

/** Parses a dotted-quad IPv4 address (exactly four decimal parts, as `dns.lookup` returns them). */
export function parseIpv4(text: string): IpBytes | null {
  const parts = text.split('.')
  if (parts.length !== 4) return null
  const bytes = new Uint8Array(4)
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!
    if (!/^\d{1,3}$/.test(part) || (part.length > 1 && part[0] === '0')) return null
    const n = Number(part)
    if (n > 255) return null
    bytes[i] = n
  }
  return bytes
}

/** Parses an IPv6 address, with `::`, an IPv4 tail (`::ffff:1.2.3.4`) or a zone (`fe80::1%eth0`). */
export function parseIpv6(text: string): IpBytes | null {
  let s = text.toLowerCase()
  const zone = s.indexOf('%')
  if (zone !== -1) s = s.slice(0, zone)
  if (!/^[0-9a-f:.]+$/.test(s)) return null
  const groups: number[] = []
  let tail: IpBytes | null = null
  const lastColon = s.lastIndexOf(':')
  if (s.includes('.')) {
    tail = parseIpv4(s.slice(lastColon + 1))
    if (!tail) return null
    s = s.slice(0, lastColon + 1) + '0:0' // placeholder groups, filled below
  }
  const halves = s.split('::')
  if (halves.length > 2) return null
  const toGroups = (half: string): number[] | null => {
    if (half === '') return []
    const out: number[] = []
    for (const g of half.split(':')) {
      if (!/^[0-9a-f]{1,4}$/.test(g)) return null
      out.push(Number.parseInt(g, 16))
    }
    return out
  }
  const head = toGroups(halves[0]!)
  const rest = halves.length === 2 ? toGroups(halves[1]!) : []
  if (!head || !rest) return null
  if (halves.length === 2) {
    const missing = 8 - head.length - rest.length
    if (missing < 1) return null
    groups.push(...head, ...new Array(missing).fill(0), ...rest)
  } else {
    groups.push(...head)
  }
  if (groups.length !== 8) return null
  const bytes = new Uint8Array(16)
  for (let i = 0; i < 8; i++) {
    bytes[i * 2] = groups[i]! >> 8
    bytes[i * 2 + 1] = groups[i]! & 0xff
  }
  if (tail) bytes.set(tail, 12)
  return bytes
}

/** Parses either family; a bracketed IPv6 literal (`[::1]`, as in URLs) is accepted too. */
export function parseIp(text: string): IpBytes | null {
  const s = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text
  return s.includes(':') ? parseIpv6(s) : parseIpv4(s)
}

/** The canonical text of an address (IPv6 compressed, lower case), for comparing and showing. */
export function formatIp(bytes: IpBytes): string {
  if (bytes.length === 4) return bytes.join('.')
  const groups: number[] = []
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!)
  // The longest run of two or more zero groups becomes "::" (RFC 5952).
  let best = -1
  let bestLen = 1
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen) (best = i), (bestLen = j - i)
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (best === -1) return hex.join(':')
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`
}

/** True when the first `bits` bits of `addr` equal those of `net` (same family). */
export function inPrefix(addr: IpBytes, net: IpBytes, bits: number): boolean {
  if (addr.length !== net.length) return false
  let i = 0
  for (; bits >= 8; bits -= 8, i++) if (addr[i] !== net[i]) return false
  if (bits === 0) return true
  const mask = (0xff << (8 - bits)) & 0xff
  return (addr[i]! & mask) === (net[i]! & mask)
}

const v4 = (text: string, bits: number) => ({ net: parseIpv4(text)!, bits })
const v6 = (text: string, bits: number) => ({ net: parseIpv6(text)!, bits })

// IANA's IPv4 special-purpose registry, narrowed to what must never be reached by default.
// Order matters only for the class reported: the more specific ranges come first.
const V4_RANGES: { net: IpBytes; bits: number; cls: AddressClass }[] = [
  { ...v4('169.254.169.254', 32), cls: 'metadata' }, // AWS, GCP, Azure, OpenStack, DigitalOcean…
  { ...v4('100.100.100.200', 32), cls: 'metadata' }, // Alibaba Cloud
  { ...v4('255.255.255.255', 32), cls: 'broadcast' },
  { ...v4('0.0.0.0', 8), cls: 'unspecified' }, // "this network"; 0.0.0.0 connects to the host itself
  { ...v4('10.0.0.0', 8), cls: 'private' },
  { ...v4('100.64.0.0', 10), cls: 'shared' },
  { ...v4('127.0.0.0', 8), cls: 'loopback' },
  { ...v4('169.254.0.0', 16), cls: 'link-local' },
  { ...v4('172.16.0.0', 12), cls: 'private' },
  { ...v4('192.0.0.0', 24), cls: 'reserved' }, // IETF protocol assignments
  { ...v4('192.0.2.0', 24), cls: 'reserved' }, // documentation
  { ...v4('192.88.99.0', 24), cls: 'reserved' }, // 6to4 relay anycast
  { ...v4('192.168.0.0', 16), cls: 'private' },
  { ...v4('198.18.0.0', 15), cls: 'reserved' }, // benchmarking
  { ...v4('198.51.100.0', 24), cls: 'reserved' }, // documentation
  { ...v4('203.0.113.0', 24), cls: 'reserved' }, // documentation
  { ...v4('224.0.0.0', 4), cls: 'multicast' },
  { ...v4('240.0.0.0', 4), cls: 'reserved' },
]

/** The class of a non-public IPv4 address, or null for a public unicast one. */
function classifyV4(bytes: IpBytes): AddressClass | null {
  for (const r of V4_RANGES) if (inPrefix(bytes, r.net, r.bits)) return r.cls
  return null
}

const V6_LOOPBACK = parseIpv6('::1')!
const V6_UNSPECIFIED = parseIpv6('::')!
const V6_METADATA = [parseIpv6('fd00:ec2::254')!] // AWS over IPv6 (Nitro)
// Prefixes whose last 32 bits are an IPv4 address that the packet ends up at: mapped (::ffff:0:0/96),
// the deprecated compatible form (::/96), SIIT (::ffff:0:0:0/96) and NAT64 (64:ff9b::/96, RFC 6052).
const V6_EMBEDDING_V4 = [v6('::ffff:0:0', 96), v6('::', 96), v6('::ffff:0:0:0', 96), v6('64:ff9b::', 96)]
const V6_RANGES: { net: IpBytes; bits: number; cls: AddressClass }[] = [
  { ...v6('64:ff9b:1::', 48), cls: 'private' }, // local-use NAT64 (RFC 8215)
  { ...v6('100::', 64), cls: 'reserved' }, // discard-only
  { ...v6('2001::', 32), cls: 'reserved' }, // Teredo: the IPv4 inside is obfuscated, so refuse it whole
  { ...v6('2001:2::', 48), cls: 'reserved' }, // benchmarking
  { ...v6('2001:db8::', 32), cls: 'reserved' }, // documentation
  { ...v6('3fff::', 20), cls: 'reserved' }, // documentation
  { ...v6('fc00::', 7), cls: 'unique-local' },
  { ...v6('fe80::', 10), cls: 'link-local' },
  { ...v6('fec0::', 10), cls: 'private' }, // deprecated site-local
  { ...v6('ff00::', 8), cls: 'multicast' },
]
const V6_GLOBAL_UNICAST = v6('2000::', 3)
const V6_6TO4 = v6('2002::', 16)

/** The class of a non-public IPv6 address (judging an embedded IPv4 by its own class), or null. */
function classifyV6(bytes: IpBytes): AddressClass | null {
  if (inPrefix(bytes, V6_LOOPBACK, 128)) return 'loopback'
  if (inPrefix(bytes, V6_UNSPECIFIED, 128)) return 'unspecified'
  if (V6_METADATA.some((m) => inPrefix(bytes, m, 128))) return 'metadata'
  for (const p of V6_EMBEDDING_V4) if (inPrefix(bytes, p.net, p.bits)) return classifyV4(bytes.slice(12, 16))
  // 6to4 carries the IPv4 address in bits 16–47: 2002:7f00:1::/48 reaches 127.0.0.1's network.
  if (inPrefix(bytes, V6_6TO4.net, V6_6TO4.bits)) return classifyV4(bytes.slice(2, 6))
  for (const r of V6_RANGES) if (inPrefix(bytes, r.net, r.bits)) return r.cls
  // Everything outside 2000::/3 is unassigned or special today; refusing it is the safe default.
  return inPrefix(bytes, V6_GLOBAL_UNICAST.net, V6_GLOBAL_UNICAST.bits) ? null : 'reserved'
}

/** Why an address must not be reached by default (loopback, private, metadata…), or null if public. */
export function classifyAddress(bytes: IpBytes): AddressClass | null {
  return bytes.length === 4 ? classifyV4(bytes) : classifyV6(bytes)
}

/** The IPv4 address an IPv6 address stands for (mapped, compatible, NAT64, 6to4), if any. */
export function embeddedIpv4(bytes: IpBytes): IpBytes | null {
  if (bytes.length !== 16) return null
  for (const p of V6_EMBEDDING_V4) {
    if (inPrefix(bytes, p.net, p.bits) && !inPrefix(bytes, V6_UNSPECIFIED, 128) && !inPrefix(bytes, V6_LOOPBACK, 128))
      return bytes.slice(12, 16)
  }
  if (inPrefix(bytes, V6_6TO4.net, V6_6TO4.bits)) return bytes.slice(2, 6)
  return null
}
