import { describe, expect, it } from 'vitest'
import { edgesOf, type GraphTask, layoutGraph, NODE_H, NODE_W } from '../../app/modules/runs/pages/layout.ts'

const task = (id: string, more: Partial<GraphTask> = {}): GraphTask => ({
  id,
  parentId: null,
  dependsOn: [],
  branchOf: null,
  startedAt: null,
  ...more,
})
const place = (tasks: GraphTask[]) => Object.fromEntries(layoutGraph(tasks).nodes.map((n) => [n.id, n]))

describe('the task graph layout', () => {
  it('puts each task one layer right of the last task it waits for', () => {
    const at = place([
      task('plan'),
      task('design', { dependsOn: ['plan'] }),
      task('code', { dependsOn: ['design', 'plan'] }),
      task('test', { dependsOn: ['code'] }),
      task('docs', { dependsOn: ['plan'] }),
    ])
    expect([at.plan!.layer, at.design!.layer, at.code!.layer, at.test!.layer, at.docs!.layer]).toEqual([0, 1, 2, 3, 1])
    expect(at.design!.x).toBeGreaterThan(at.plan!.x + NODE_W)
  })

  it('gives edges their kind: dependency, branch, parent (only when nothing else links the task); none to unknown tasks', () => {
    const edges = edgesOf([
      task('plan'),
      task('code', { parentId: 'plan', dependsOn: ['plan', 'ghost'] }),
      task('sub', { parentId: 'code' }),
      task('debug', { branchOf: 'code', dependsOn: ['code'] }),
      task('docs', { parentId: 'sub', dependsOn: ['plan'] }),
      task('orphan', { parentId: 'ghost' }),
    ])
    expect(edges).toEqual([
      { from: 'plan', to: 'code', kind: 'depends' },
      { from: 'code', to: 'sub', kind: 'parent' },
      { from: 'code', to: 'debug', kind: 'branch' },
      { from: 'plan', to: 'docs', kind: 'depends' },
    ])
  })

  it('is deterministic: the same tasks in any order give the same picture', () => {
    const tasks = [
      task('a', { startedAt: 1 }),
      task('b', { startedAt: 2 }),
      task('c', { dependsOn: ['a'], startedAt: 3 }),
      task('d', { dependsOn: ['b'], startedAt: 3 }),
      task('e', { dependsOn: ['c', 'd'] }),
    ]
    const one = layoutGraph(tasks)
    const two = layoutGraph([...tasks].reverse())
    const byId = (l: typeof one) => Object.fromEntries(l.nodes.map((n) => [n.id, [n.x, n.y]]))
    expect(byId(two)).toEqual(byId(one))
    expect(one).toMatchObject({ layers: 3 })
  })

  it('orders a layer by its predecessors (no crossing when none is needed), ties by start time then id', () => {
    const at = place([
      task('a', { startedAt: 2 }),
      task('b', { startedAt: 1 }),
      task('from-a', { dependsOn: ['a'] }),
      task('from-b', { dependsOn: ['b'] }),
      task('z'),
      task('y'),
    ])
    // b started first: row 0; a row 1; unstarted y before z by id.
    expect([at.b!.row, at.a!.row, at.y!.row, at.z!.row]).toEqual([0, 1, 2, 3])
    expect(at['from-b']!.row).toBeLessThan(at['from-a']!.row)
    expect(at.a!.y).toBe(at.b!.y + NODE_H + 18)
  })

  it('survives a cycle a client sent by mistake, and a 1,000-task chain without overflowing', () => {
    const cyc = place([
      task('a', { dependsOn: ['c'] }),
      task('b', { dependsOn: ['a'] }),
      task('c', { dependsOn: ['b'] }),
    ])
    expect(new Set(Object.values(cyc).map((n) => n.layer)).size).toBe(3)
    const chain = Array.from({ length: 1000 }, (_, i) => task(`t${i}`, { dependsOn: i ? [`t${i - 1}`] : [] }))
    const l = layoutGraph(chain.reverse())
    expect(l.layers).toBe(1000)
    expect(l.nodes.find((n) => n.id === 't999')!.layer).toBe(999)
  })

  it('draws nothing for no tasks', () => {
    expect(layoutGraph([])).toEqual({ nodes: [], edges: [], layers: 0, width: 0, height: 0 })
  })
})
