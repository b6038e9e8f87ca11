/** @jsxImportSource hono/jsx */
/** The structured diff, as the dashboard shows it. */
import type { WorkflowDiff } from './diff.ts'

const show = (v: unknown) => (v === null || v === undefined ? '—' : typeof v === 'string' ? v : JSON.stringify(v))
const edge = (e: WorkflowDiff['connections']['added'][number]) =>
  `${e.from} (${e.type} ${e.output}) → ${e.to} (${e.toType} ${e.input})`

export function DiffView({ diff }: { diff: WorkflowDiff }) {
  if (diff.same) return <p class="empty">No differences.</p>
  const n = diff.nodes
  return (
    <div class="diff">
      <ul>
        {diff.name ? (
          <li>
            Renamed workflow: {diff.name.old} → {diff.name.new}
          </li>
        ) : null}
        {diff.active ? <li>Active: {diff.active.new ? 'activated' : 'deactivated'}</li> : null}
        {n.added.map((x) => (
          <li class="diff-added">
            Node added: <strong>{x.name}</strong> <span class="muted">{x.type}</span>
          </li>
        ))}
        {n.removed.map((x) => (
          <li class="diff-removed">
            Node removed: <strong>{x.name}</strong> <span class="muted">{x.type}</span>
          </li>
        ))}
        {n.renamed.map((x) => (
          <li>
            Node renamed: {x.old} → <strong>{x.new}</strong>
          </li>
        ))}
        {diff.connections.added.map((e) => (
          <li class="diff-added">Connection added: {edge(e)}</li>
        ))}
        {diff.connections.removed.map((e) => (
          <li class="diff-removed">Connection removed: {edge(e)}</li>
        ))}
      </ul>
      {n.changed.length || diff.settings.length ? (
        <div class="table-wrap">
          <table class="table">
            <thead>
              <tr>
                <th>Where</th>
                <th>Path</th>
                <th>Old</th>
                <th>New</th>
              </tr>
            </thead>
            <tbody>
              {n.changed.flatMap((c) =>
                c.changes.map((ch) => (
                  <tr>
                    <td>{c.node}</td>
                    <td>
                      <code>{ch.path}</code>
                    </td>
                    <td>
                      <code>{show(ch.old)}</code>
                    </td>
                    <td>
                      <code>{show(ch.new)}</code>
                    </td>
                  </tr>
                )),
              )}
              {diff.settings.map((ch) => (
                <tr>
                  <td>settings</td>
                  <td>
                    <code>{ch.path}</code>
                  </td>
                  <td>
                    <code>{show(ch.old)}</code>
                  </td>
                  <td>
                    <code>{show(ch.new)}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </div>
  )
}
