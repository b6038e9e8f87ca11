import { classifyAddress, embeddedIpv4, formatIp, inPrefix, type IpBytes, parseIp } from './ip.ts'

/**
 * The outbound policy's decisions, without any I/O: which destinations an admin allowed
 * (`OUTBOUND_ALLOW`), and whether a host name or a resolved address may be connected to.
 * The HTTP side is `outbound.ts`; the configuration parses `OUTBOUND_ALLOW` with this file alone.
 */

/** One `OUTBOUND_ALLOW` entry: a host name (optionally `*.` for its sub-domains) or an address range. */
export type OutboundAllowEntry =
  | { kind: 'host'; host: string; subdomains: boolean; port?: number; text: string }
  | { kind: 'range'; net: IpBytes; bits: number; port?: number; text: string }

/** Why a destination is refused, for the server's log only: a caller shows the generic message. */
export type RefusalWhy = NonNullable<ReturnType<typeof classifyAddress>> | 'metadata-name'

// Names that reach a cloud's instance metadata service (credentials!) whatever they resolve to here.
const METADATA_NAMES = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
])

/** A URL's host name as the policy compares it: lower case, no brackets, no trailing dot. */
export function normalizeHost(hostname: string): string {
  let h = hostname.toLowerCase()
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1)
  return h.endsWith('.') ? h.slice(0, -1) : h
}

const HOST_NAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/

function parsePort(text: string, entry: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN
  if (!(port >= 1 && port <= 65535)) throw new Error(`entry "${entry}": the port must be a number from 1 to 65535`)
  return port
}

/** One entry: `host`, `*.domain`, `host:port`, an IP (`[v6]:port` with a port), or a CIDR range. */
function parseEntry(text: string): OutboundAllowEntry {
  if (text.includes('://') || /[?#@\s]/.test(text)) {
    throw new Error(`entry "${text}": write a host, host:port, IP, IP:port or CIDR range, not a URL`)
  }
  const slash = text.indexOf('/')
  if (slash !== -1) {
    const net = parseIp(text.slice(0, slash))
    const bitsText = text.slice(slash + 1)
    const max = net?.length === 4 ? 32 : 128
    if (!net) throw new Error(`entry "${text}": a CIDR range needs an IP address before the "/"`)
    const bits = /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : Number.NaN
    if (!(bits >= 0 && bits <= max)) throw new Error(`entry "${text}": the prefix length must be 0 to ${max}`)
    // A range written with host bits set is most likely a typo for a narrower or wider one.
    const masked = net.slice()
    for (let bit = bits; bit < max; bit++) masked[bit >> 3]! &= ~(0x80 >> (bit & 7))
    if (!inPrefix(net, masked, max)) {
      throw new Error(`entry "${text}": host bits are set; did you mean ${formatIp(masked)}/${bits}?`)
    }
    return { kind: 'range', net, bits, text }
  }
  // [v6] or [v6]:port
  const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(text)
  if (bracket) {
    const net = parseIp(bracket[1]!)
    if (net?.length !== 16) throw new Error(`entry "${text}": not an IPv6 address between the brackets`)
    const port = bracket[2] === undefined ? undefined : parsePort(bracket[2], text)
    return { kind: 'range', net, bits: 128, port, text }
  }
  if ((text.match(/:/g) ?? []).length > 1) {
    const net = parseIp(text)
    if (!net) throw new Error(`entry "${text}": not an IPv6 address (write [address]:port for a port)`)
    return { kind: 'range', net, bits: 128, text }
  }
  const colon = text.indexOf(':')
  const host = normalizeHost(colon === -1 ? text : text.slice(0, colon))
  const port = colon === -1 ? undefined : parsePort(text.slice(colon + 1), text)
  const ip = parseIp(host)
  if (ip) return { kind: 'range', net: ip, bits: 32, port, text }
  if (/^[\d.]+$/.test(host)) throw new Error(`entry "${text}": not an IPv4 address`)
  if (!HOST_NAME.test(host)) throw new Error(`entry "${text}": not a host name, IP address or CIDR range`)
  const subdomains = host.startsWith('*.')
  return { kind: 'host', host: subdomains ? host.slice(2) : host, subdomains, port, text }
}

/**
 * Parses `OUTBOUND_ALLOW`: comma-separated entries such as `127.0.0.1:11434,ollama.internal,10.0.0.0/8`.
 * Blank entries are ignored; a bad one throws an Error whose message quotes it and says why.
 */
export function parseOutboundAllow(text: string): OutboundAllowEntry[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(parseEntry)
}

const portMatches = (entry: OutboundAllowEntry, port: number) => entry.port === undefined || entry.port === port

/** True when an admin allowed this host name (and port) by name: then any address it resolves to may be used. */
export function hostAllowed(allow: readonly OutboundAllowEntry[], hostname: string, port: number): boolean {
  const host = normalizeHost(hostname)
  return allow.some(
    (e) => e.kind === 'host' && portMatches(e, port) && (e.subdomains ? host.endsWith(`.${e.host}`) : host === e.host),
  )
}

/** Refuses a host name before it is resolved: the metadata names, unless allowed by name. */
export function judgeHostName(allow: readonly OutboundAllowEntry[], hostname: string, port: number): RefusalWhy | null {
  const host = normalizeHost(hostname)
  return METADATA_NAMES.has(host) && !hostAllowed(allow, host, port) ? 'metadata-name' : null
}

/**
 * May the server connect to `address` for a URL naming `hostname` and `port`? Null when it may,
 * else why not. Public unicast addresses are allowed; the rest only when the host name or the
 * address is allow-listed. A metadata address is opened only by an entry naming exactly it, never
 * by a range that happens to contain it (`169.254.0.0/16` does not open 169.254.169.254).
 */
export function judgeAddress(
  allow: readonly OutboundAllowEntry[],
  hostname: string,
  port: number,
  address: IpBytes,
): RefusalWhy | null {
  const why = classifyAddress(address)
  if (why === null || hostAllowed(allow, hostname, port)) return null
  const forms = [address, embeddedIpv4(address)].filter((a): a is IpBytes => a !== null)
  const opened = allow.some(
    (e) =>
      e.kind === 'range' &&
      portMatches(e, port) &&
      (why !== 'metadata' || e.bits === e.net.length * 8) &&
      forms.some((a) => inPrefix(a, e.net, e.bits)),
  )
  return opened ? null : why
}
