import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../app/config.ts'
import { diffWorkflows, edgesOf } from '../../app/modules/backups/workflows/diff.ts'
import { contentHash, contentOf, type WorkflowContent } from '../../app/modules/backups/workflows/normalise.ts'
import { rollbackBody } from '../../app/modules/backups/workflows/put-body.ts'
import { splitPath, tarEnd, tarEntry } from '../../app/modules/backups/workflows/tar.ts'

const base = (): WorkflowContent => ({
  name: 'Orders',
  active: true,
  nodes: [
    { id: 'a', name: 'Webhook', type: 'n8n-nodes-base.webhook', position: [0, 0], parameters: { path: 'orders' } },
    {
      id: 'b',
      name: 'HTTP',
      type: 'n8n-nodes-base.httpRequest',
      position: [200, 0],
      parameters: { url: 'https://api.example.com/v1', options: { timeout: 1000 } },
    },
  ],
  connections: { Webhook: { main: [[{ node: 'HTTP', type: 'main', index: 0 }]] } },
  settings: { executionOrder: 'v1' },
})
const off = { positions: false }

describe('normalised hash', () => {
  it('ignores key order, node order, node ids, volatile fields and positions', () => {
    const a = base()
    const raw = {
      ...structuredClone(a),
      id: 'w1',
      versionId: 'v-1',
      updatedAt: '2026-01-01T00:00:00Z',
      pinData: { x: 1 },
      staticData: { lastId: 3 },
    }
    const b = contentOf(raw)
    b.nodes.reverse()
    b.nodes[0]!.position = [999, 999]
    b.nodes[0]!.id = 'other-id'
    b.settings = { executionOrder: 'v1' }
    expect(contentHash(b, off)).toBe(contentHash(a, off))
  })

  it('counts a position move when positions are tracked', () => {
    const b = base()
    b.nodes[1]!.position = [400, 0]
    expect(contentHash(b, { positions: true })).not.toBe(contentHash(base(), { positions: true }))
    expect(contentHash(b, off)).toBe(contentHash(base(), off))
  })

  it('changes with a parameter, a connection, a setting, the name or active', () => {
    const h = contentHash(base(), off)
    const edits: ((w: WorkflowContent) => void)[] = [
      (w) => void (w.nodes[1]!.parameters!.url = 'https://api.example.com/v2'),
      (w) => void (w.connections = {}),
      (w) => void (w.settings.timezone = 'Europe/Paris'),
      (w) => void (w.name = 'Orders 2'),
      (w) => void (w.active = false),
    ]
    for (const edit of edits) {
      const w = base()
      edit(w)
      expect(contentHash(w, off)).not.toBe(h)
    }
  })
})

describe('diff', () => {
  it('finds added, removed and renamed nodes, parameter paths, connections and settings', () => {
    const a = base()
    const b = base()
    b.name = 'Orders v2'
    b.active = false
    b.nodes[1]!.name = 'Call API' // renamed: same id
    b.nodes[1]!.parameters = { url: 'https://api.example.com/v2', options: { timeout: 1000 } }
    b.nodes.push({ id: 'c', name: 'Slack', type: 'n8n-nodes-base.slack', position: [400, 0], parameters: {} })
    b.nodes.splice(0, 1) // Webhook removed
    b.nodes.unshift({ id: 'd', name: 'Cron', type: 'n8n-nodes-base.cron', position: [0, 0], parameters: {} })
    b.connections = {
      Cron: { main: [[{ node: 'Call API', type: 'main', index: 0 }]] },
      'Call API': { main: [[{ node: 'Slack', type: 'main', index: 0 }]] },
    }
    b.settings = { executionOrder: 'v1', timezone: 'UTC' }
    const d = diffWorkflows(a, b, off)
    expect(d.same).toBe(false)
    expect(d.name).toEqual({ old: 'Orders', new: 'Orders v2' })
    expect(d.active).toEqual({ old: true, new: false })
    expect(d.nodes.renamed).toEqual([{ id: 'b', old: 'HTTP', new: 'Call API' }])
    expect(d.nodes.removed).toEqual([{ name: 'Webhook', type: 'n8n-nodes-base.webhook' }])
    expect(d.nodes.added.map((n) => n.name).sort()).toEqual(['Cron', 'Slack'])
    expect(d.nodes.changed).toEqual([
      {
        node: 'Call API',
        changes: [{ path: 'parameters.url', old: 'https://api.example.com/v1', new: 'https://api.example.com/v2' }],
      },
    ])
    // The edge into the renamed node from the removed Webhook is removed; the rename alone moves no edge.
    expect(d.connections.removed).toEqual([
      { from: 'Webhook', type: 'main', output: 0, to: 'Call API', toType: 'main', input: 0 },
    ])
    expect(d.connections.added.map((e) => `${e.from}->${e.to}`).sort()).toEqual(['Call API->Slack', 'Cron->Call API'])
    expect(d.settings).toEqual([{ path: 'timezone', old: null, new: 'UTC' }])
  })

  it('matches nodes by name when they have no ids, and says when nothing differs', () => {
    const a = base()
    const b = base()
    for (const n of [...a.nodes, ...b.nodes]) delete n.id
    b.nodes[0]!.position = [50, 50]
    expect(diffWorkflows(a, b, off).same).toBe(true)
    const moved = diffWorkflows(a, b, { positions: true })
    expect(moved.nodes.changed).toEqual([
      { node: 'Webhook', changes: [{ path: 'position', old: [0, 0], new: [50, 50] }] },
    ])
  })

  it('reads connections with several outputs and ignores malformed entries', () => {
    const edges = edgesOf({
      IF: { main: [[{ node: 'A', type: 'main', index: 0 }], [{ node: 'B', type: 'main', index: 1 }]] },
      Bad: 'nonsense',
      Odd: { main: ['x', [null]] },
    })
    expect(edges).toEqual([
      { from: 'IF', type: 'main', output: 0, to: 'A', toType: 'main', input: 0 },
      { from: 'IF', type: 'main', output: 1, to: 'B', toType: 'main', input: 1 },
    ])
  })
})

describe('rollback body', () => {
  it('sends only what n8n 1.123 accepts: no read-only fields, only known node and settings keys', () => {
    const c = base()
    c.nodes[0]!.createdAt = 'x'
    c.nodes[0]!.extra = 1
    c.settings.unknownSetting = true
    c.settings.timezone = 'UTC'
    const body = rollbackBody(c)
    expect(Object.keys(body).sort()).toEqual(['connections', 'name', 'nodes', 'settings'])
    expect(body.nodes[0]).toEqual({
      id: 'a',
      name: 'Webhook',
      type: 'n8n-nodes-base.webhook',
      position: [0, 0],
      parameters: { path: 'orders' },
    })
    expect(body.settings).toEqual({ executionOrder: 'v1', timezone: 'UTC' })
  })
})

describe('ustar writer', () => {
  it('writes archives that tar lists and extracts, long paths included', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wf-tar-'))
    try {
      const long = `${'inst/'.padEnd(60, 'x')}/${'workflow-'.padEnd(70, 'y')}/0001-file.json`
      const parts = [
        ...tarEntry('a/b.json', new TextEncoder().encode('{"a":1}\n'), Date.UTC(2026, 0, 1)),
        ...tarEntry(long, new TextEncoder().encode('x'.repeat(1000)), Date.UTC(2026, 0, 1)),
        tarEnd(),
      ]
      const file = join(dir, 'out.tar')
      writeFileSync(file, Buffer.concat(parts))
      const listing = execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).trim().split('\n')
      expect(listing).toEqual(['a/b.json', long])
      execFileSync('tar', ['-xf', file, '-C', dir])
      expect(readFileSync(join(dir, 'a/b.json'), 'utf8')).toBe('{"a":1}\n')
      expect(readFileSync(join(dir, long), 'utf8')).toHaveLength(1000)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('refuses a path ustar cannot hold', () => {
    expect(() => splitPath('x'.repeat(120))).toThrow(/too long/)
    expect(splitPath('short/name.json')).toEqual({ prefix: '', name: 'short/name.json' })
  })
})

describe('configuration', () => {
  it('defaults to a pull every 5 minutes, 5 calls a second, positions ignored', () => {
    const c = loadConfig({})
    expect([c.WORKFLOW_PULL_CRON, c.WORKFLOW_PULL_MAX_RPS, c.WORKFLOW_HISTORY_POSITIONS]).toEqual([
      '*/5 * * * *',
      5,
      false,
    ])
  })

  it('stops start-up naming a bad schedule or rate', () => {
    expect(() => loadConfig({ WORKFLOW_PULL_CRON: 'every five minutes' })).toThrow(/WORKFLOW_PULL_CRON/)
    expect(() => loadConfig({ WORKFLOW_PULL_MAX_RPS: '0' })).toThrow(/WORKFLOW_PULL_MAX_RPS/)
  })
})
