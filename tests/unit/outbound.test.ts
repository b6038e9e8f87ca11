import { describe, expect, it } from 'vitest'
import { classifyAddress, formatIp, parseIp } from '../../app/lib/ip.ts'
import { redactUrl } from '../../app/lib/outbound.ts'
import { judgeAddress, judgeHostName, parseOutboundAllow } from '../../app/lib/outbound-policy.ts'

const cls = (text: string) => {
  const bytes = parseIp(text)
  if (!bytes) throw new Error(`test address ${text} does not parse`)
  return classifyAddress(bytes)
}

/** The policy's verdict for an address reached under a host name and port, with an allow-list. */
const judge = (allow: string, address: string, host = address, port = 80) =>
  judgeAddress(parseOutboundAllow(allow), host, port, parseIp(address)!)

describe('IP parsing', () => {
  it('reads both families, compressed IPv6, IPv4 tails, zones and brackets', () => {
    expect(formatIp(parseIp('192.168.1.10')!)).toBe('192.168.1.10')
    expect(formatIp(parseIp('[::1]')!)).toBe('::1')
    expect(formatIp(parseIp('fe80::1%eth0')!)).toBe('fe80::1')
    expect(formatIp(parseIp('::ffff:127.0.0.1')!)).toBe('::ffff:7f00:1')
    expect(formatIp(parseIp('2001:DB8:0:0:1:0:0:1')!)).toBe('2001:db8::1:0:0:1')
    expect(formatIp(parseIp('::')!)).toBe('::')
  })

  it('refuses what is not an address', () => {
    for (const bad of [
      '256.1.1.1',
      '1.2.3',
      '01.2.3.4',
      '1.2.3.4.5',
      '::1::2',
      '1:2:3:4:5:6:7:8:9',
      'example.com',
      'g::1',
      '',
    ])
      expect(parseIp(bad), bad).toBeNull()
  })
})

describe('address classes the policy refuses by default', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['::', 'unspecified'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.0.1', 'private'],
    ['100.64.0.1', 'shared'],
    ['100.127.255.255', 'shared'],
    ['169.254.1.1', 'link-local'],
    ['fe80::1', 'link-local'],
    ['febf::1', 'link-local'],
    ['fc00::1', 'unique-local'],
    ['fd00::1', 'unique-local'],
    ['169.254.169.254', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['fd00:ec2::254', 'metadata'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['2001:db8::1', 'reserved'],
    ['2001:0:4136:e378::1', 'reserved'], // Teredo
    ['100::1', 'reserved'],
    ['::2:3:4:5', 'reserved'], // outside 2000::/3 and not an embedding form
  ])('%s is %s', (address, expected) => {
    expect(cls(address)).toBe(expected)
  })

  it.each([
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:a9fe:a9fe', 'metadata'],
    ['::127.0.0.1', 'loopback'], // deprecated IPv4-compatible
    ['::ffff:0:127.0.0.1', 'loopback'], // SIIT
    ['64:ff9b::7f00:1', 'loopback'], // NAT64
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['64:ff9b:1::1', 'private'], // local-use NAT64
    ['2002:7f00:1::1', 'loopback'], // 6to4 of 127.0.0.1
    ['2002:c0a8:101::1', 'private'], // 6to4 of 192.168.1.1
  ])('the IPv6 form %s is judged by its IPv4 address: %s', (address, expected) => {
    expect(cls(address)).toBe(expected)
  })

  it.each([
    '1.1.1.1',
    '8.8.8.8',
    '172.15.255.255',
    '172.32.0.1',
    '100.63.255.255',
    '100.128.0.1',
    '169.253.255.255',
    '2606:4700:4700::1111',
    '::ffff:1.1.1.1',
    '64:ff9b::101:101',
    '2002:101:101::1',
  ])('%s is public', (address) => {
    expect(cls(address)).toBeNull()
  })
})

describe('parseOutboundAllow', () => {
  it('reads hosts, host:port, IPs, IP:port, [IPv6]:port, CIDR ranges and *.domain; ignores blanks', () => {
    const entries = parseOutboundAllow(
      ' 127.0.0.1:11434, Ollama.Internal. ,10.0.0.0/8,,[::1]:8080,fd00::/8,::1,*.corp.example,qdrant:6333 ',
    )
    expect(entries.map((e) => e.text)).toEqual([
      '127.0.0.1:11434',
      'Ollama.Internal.',
      '10.0.0.0/8',
      '[::1]:8080',
      'fd00::/8',
      '::1',
      '*.corp.example',
      'qdrant:6333',
    ])
    expect(entries[0]).toMatchObject({ kind: 'range', bits: 32, port: 11434 })
    expect(entries[1]).toMatchObject({ kind: 'host', host: 'ollama.internal', subdomains: false })
    expect(entries[2]).toMatchObject({ kind: 'range', bits: 8 })
    expect(entries[2]!.port).toBeUndefined()
    expect(entries[3]).toMatchObject({ kind: 'range', bits: 128, port: 8080 })
    expect(entries[6]).toMatchObject({ kind: 'host', host: 'corp.example', subdomains: true })
    expect(entries[7]).toMatchObject({ kind: 'host', host: 'qdrant', port: 6333 })
    expect(parseOutboundAllow('')).toEqual([])
  })

  it.each([
    ['http://ollama:11434', 'not a URL'],
    ['ollama:11434/api', 'needs an IP address before'],
    ['10.0.0.1/8', 'did you mean 10.0.0.0/8?'],
    ['10.0.0.0/33', 'prefix length must be 0 to 32'],
    ['fd00::/129', 'prefix length must be 0 to 128'],
    ['ollama:0', 'port must be a number from 1 to 65535'],
    ['ollama:99999', 'port must be a number from 1 to 65535'],
    ['ollama:', 'port must be a number'],
    ['[not-ip]:80', 'not an IPv6 address between the brackets'],
    ['fd00::1:80:zz', 'not an IPv6 address'],
    ['300.1.1.1', 'not an IPv4 address'],
    ['bad_host', 'not a host name'],
    ['user@host', 'not a URL'],
  ])('refuses %s naming it', (entry, why) => {
    expect(() => parseOutboundAllow(`127.0.0.1,${entry}`)).toThrow(`entry "${entry}"`)
    expect(() => parseOutboundAllow(entry)).toThrow(why)
  })
})

describe('judging an address', () => {
  it('refuses internal addresses with no allow-list, and lets public ones through', () => {
    expect(judge('', '127.0.0.1')).toBe('loopback')
    expect(judge('', '10.1.2.3')).toBe('private')
    expect(judge('', '93.184.215.14')).toBeNull()
  })

  it('opens an address by IP, IP:port (that port only) or range', () => {
    expect(judge('127.0.0.1', '127.0.0.1', '127.0.0.1', 9999)).toBeNull()
    expect(judge('127.0.0.1:11434', '127.0.0.1', '127.0.0.1', 11434)).toBeNull()
    expect(judge('127.0.0.1:11434', '127.0.0.1', '127.0.0.1', 11435)).toBe('loopback')
    expect(judge('10.0.0.0/8', '10.20.30.40')).toBeNull()
    expect(judge('10.0.0.0/8', '11.0.0.1')).toBeNull() // public anyway
    expect(judge('10.0.0.0/8', '192.168.0.1')).toBe('private')
    expect(judge('fd00::/8', 'fd12::1')).toBeNull()
    expect(judge('[::1]:80', '::1', '::1', 80)).toBeNull()
    expect(judge('[::1]:80', '::1', '::1', 81)).toBe('loopback')
  })

  it('an allowed IPv4 address also opens its IPv4-mapped IPv6 form', () => {
    expect(judge('127.0.0.1', '::ffff:127.0.0.1')).toBeNull()
    expect(judge('127.0.0.1', '::ffff:127.0.0.2')).toBe('loopback')
  })

  it('opens any address of a host allowed by name (and port)', () => {
    expect(judge('ollama.internal', '10.0.0.5', 'ollama.internal')).toBeNull()
    expect(judge('ollama.internal', '10.0.0.5', 'OLLAMA.internal.')).toBeNull()
    expect(judge('ollama.internal:11434', '10.0.0.5', 'ollama.internal', 80)).toBe('private')
    expect(judge('*.corp.example', '10.0.0.5', 'db.corp.example')).toBeNull()
    expect(judge('*.corp.example', '10.0.0.5', 'corp.example')).toBe('private')
    expect(judge('ollama.internal', '10.0.0.5', 'other.internal')).toBe('private')
  })

  it('a metadata address opens only by naming it exactly, never by a range around it', () => {
    expect(judge('169.254.0.0/16', '169.254.169.254')).toBe('metadata')
    expect(judge('0.0.0.0/0', '169.254.169.254')).toBe('metadata')
    expect(judge('169.254.0.0/16', '169.254.1.1')).toBeNull()
    expect(judge('169.254.169.254', '169.254.169.254')).toBeNull()
    expect(judge('fd00::/8', 'fd00:ec2::254')).toBe('metadata')
  })

  it('refuses the metadata host names before resolving them, unless allowed by name', () => {
    const none = parseOutboundAllow('')
    for (const name of ['metadata.google.internal', 'METADATA', 'metadata.google.internal.', 'metadata.goog'])
      expect(judgeHostName(none, name, 80), name).toBe('metadata-name')
    expect(judgeHostName(none, 'example.com', 80)).toBeNull()
    expect(judgeHostName(parseOutboundAllow('metadata.google.internal'), 'metadata.google.internal', 80)).toBeNull()
  })
})

describe('redactUrl', () => {
  it('drops user info, query and fragment; keeps scheme, host, port and path', () => {
    expect(redactUrl('https://user:hunter2@hooks.example.com:8443/a/b?token=s3cret&x=1#frag')).toBe(
      'https://hooks.example.com:8443/a/b',
    )
    expect(redactUrl(new URL('http://[::1]:8080/?k=v'))).toBe('http://[::1]:8080/')
    expect(redactUrl('not a url ?token=s3cret')).toBe('[invalid URL]')
  })
})
