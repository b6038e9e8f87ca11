/** @jsxImportSource hono/jsx */
/**
 * Models: the registry table, and a model's page — version timeline, aliases, what is live on each
 * host with its history, and the deploy panel (host, Modelfile preview with validation, deploy
 * button, live progress over server-sent events from `/api/v1/deployments/:id/events`, read by
 * /static/registry-deploy.js). Page actions call the same registry service as the API, with the same
 * checks and audit rows; write controls are shown to operators only.
 */
import { count, eq } from 'drizzle-orm'
import { Hono } from 'hono'
import * as v from 'valibot'
import { deployments, modelAliases, modelVersions } from '../../../../db/schema/registry.ts'
import type { AppEnv, ModuleDeps } from '../../../context.ts'
import { AppError } from '../../../lib/errors.ts'
import { Empty, Layout } from '../../../lib/layout.tsx'
import { issuesToDetails, validate } from '../../../lib/validate.ts'
import { access, canWrite } from '../../../middleware/access.ts'
import { requirePrincipal } from '../../../middleware/auth.ts'
import { hostJson, listHosts } from '../hosts/store.ts'
import type { Registry } from '../service.ts'
import { aliasJson, listAliases } from './aliases.ts'
import { AliasName, ModelParam, Semver } from './input.ts'
import { type ModelfileResult, validateModelfile } from './modelfile.ts'
import { deploymentsOf, whoOf } from './routes.ts'
import { getModel, getVersion, getVersionById, listModels, listVersions, versionJson } from './store.ts'

const Form = v.record(v.string(), v.string())

function field<S extends v.GenericSchema>(name: string, schema: S, value: unknown): v.InferOutput<S> {
  const r = v.safeParse(schema, value)
  if (!r.success) throw new AppError(400, 'invalid_input', 'Invalid form', issuesToDetails(r.issues, `${name}`))
  return r.output
}

function Validation({ result }: { result: ModelfileResult }) {
  return (
    <div class="modelfile-check" data-valid={String(result.valid)}>
      {result.valid ? (
        <p class="ok">Modelfile valid{result.warnings.length ? ` (${result.warnings.length} warning(s))` : ''}</p>
      ) : (
        <div class="error">
          <strong>Modelfile has {result.errors.length} error(s)</strong>
          <ul>
            {result.errors.map((e) => (
              <li>
                {e.line === null ? 'file' : `line ${e.line}`}: {e.message}
              </li>
            ))}
          </ul>
        </div>
      )}
      {result.warnings.length ? (
        <ul class="muted">
          {result.warnings.map((w) => (
            <li>
              line {w.line}: {w.message}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  )
}

function Preview({ modelfile }: { modelfile: string }) {
  return (
    <div id="modelfile-preview">
      <pre class="modelfile">{modelfile}</pre>
      <Validation result={validateModelfile(modelfile)} />
    </div>
  )
}

export function modelPages(deps: Pick<ModuleDeps, 'db' | 'sealer' | 'now'> & { registry: Registry }) {
  const { db, registry } = deps
  const app = new Hono<AppEnv>()

  app.get('/models', access('viewer'), async (c) => {
    const { items } = await listModels(db, { limit: 500 })
    const counts = async (id: string) => {
      const [[vs], [ls], [as]] = await Promise.all([
        db.select({ n: count() }).from(modelVersions).where(eq(modelVersions.modelId, id)),
        db.select({ n: count() }).from(deployments).where(eq(deployments.modelId, id)),
        db.select({ n: count() }).from(modelAliases).where(eq(modelAliases.modelId, id)),
      ])
      return { versions: vs?.n ?? 0, live: ls?.n ?? 0, aliases: as?.n ?? 0 }
    }
    const rows = await Promise.all(items.map(async (m) => ({ m, n: await counts(m.id) })))
    return c.html(
      <Layout title="Models" active="/models" principal={requirePrincipal(c)}>
        <h1>Models</h1>
        <p class="muted">
          Versions with validated Modelfiles, deployed to Ollama hosts, rolled back, and named by aliases that model
          routes follow.
        </p>
        {rows.length ? (
          <table class="table registry">
            <thead>
              <tr>
                <th>Model</th>
                <th>Base</th>
                <th>Versions</th>
                <th>Live on</th>
                <th>Aliases</th>
                <th>Tags</th>
              </tr>
            </thead>
            <tbody>
              {rows.map(({ m, n }) => (
                <tr>
                  <td>
                    <a href={`/models/${m.id}`}>{m.name}</a> <code class="muted">{m.id}</code>
                  </td>
                  <td>{m.baseModel}</td>
                  <td>{n.versions}</td>
                  <td>{n.live} host(s)</td>
                  <td>{n.aliases}</td>
                  <td>{m.tags.join(', ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <Empty>No models yet: create one with POST /api/v1/models (see the registry docs).</Empty>
        )}
      </Layout>,
    )
  })

  app.get('/models/:id', access('viewer'), validate('param', ModelParam), async (c) => {
    const model = await getModel(db, c.req.valid('param').id)
    const [versions, aliases, deployed, hosts] = await Promise.all([
      listVersions(db, model.id),
      listAliases(db, model.id),
      deploymentsOf(deps, model.id, 30),
      listHosts(db),
    ])
    const write = canWrite(c)
    const deployable = versions.filter(
      (x) => x.status !== 'archived' && x.status !== 'failed' && x.status !== 'training',
    )
    return c.html(
      <Layout title={model.name} active="/models" principal={requirePrincipal(c)}>
        <h1>
          {model.name} <code class="muted">{model.id}</code>
        </h1>
        <p>
          Base model <strong>{model.baseModel}</strong>
          {model.description ? ` · ${model.description}` : ''} ·{' '}
          <a
            href={`/models/${model.id}/compare${versions.length > 1 ? `?a=${versions[1]!.version}&b=${versions[0]!.version}` : ''}`}
          >
            Compare versions
          </a>
        </p>
        <section class="card">
          <h2>Versions</h2>
          {versions.length ? (
            <ol class="timeline">
              {versions.map((x) => {
                const j = versionJson(x, { modelfile: false })
                return (
                  <li data-version={x.version}>
                    <strong>{x.version}</strong> <span class="badge">{x.status}</span>{' '}
                    <span class="muted">
                      {j.createdAt} by {x.createdBy} · sha256 {x.sha256.slice(0, 12)}
                      {x.previousVersion ? ` · after ${x.previousVersion}` : ''}
                      {x.training.datasetId ? ` · dataset ${x.training.datasetId}` : ''}
                      {x.training.recordCount !== undefined ? ` (${x.training.recordCount} records)` : ''}
                    </span>
                  </li>
                )
              })}
            </ol>
          ) : (
            <Empty>No versions yet.</Empty>
          )}
        </section>
        <section class="card">
          <h2>Live on hosts</h2>
          {deployed.live.length ? (
            <table class="table live">
              <thead>
                <tr>
                  <th>Host</th>
                  <th>Version</th>
                  <th>Since</th>
                  <th>By</th>
                  {write ? <th></th> : null}
                </tr>
              </thead>
              <tbody>
                {deployed.live.map((l) => (
                  <tr data-host={l.host}>
                    <td>{l.host}</td>
                    <td>{l.version}</td>
                    <td>{l.since}</td>
                    <td>{l.by}</td>
                    {write ? (
                      <td>
                        <form hx-post={`/models/${model.id}/rollback`} hx-target="#registry-result">
                          <input type="hidden" name="host" value={l.host} />
                          <button type="submit">Roll back</button>
                        </form>
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <Empty>Not live anywhere.</Empty>
          )}
          <div id="registry-result"></div>
          <h3>History</h3>
          <table class="table history">
            <thead>
              <tr>
                <th>When</th>
                <th>Kind</th>
                <th>Host</th>
                <th>Version</th>
                <th>Status</th>
                <th>By</th>
              </tr>
            </thead>
            <tbody>
              {deployed.history.map((d) => (
                <tr>
                  <td>{d.startedAt}</td>
                  <td>{d.kind}</td>
                  <td>{d.host}</td>
                  <td>
                    {d.fromVersion ? `${d.fromVersion} → ` : ''}
                    {d.version}
                  </td>
                  <td>
                    {d.status}
                    {d.error ? <span class="muted"> ({d.error})</span> : null}
                  </td>
                  <td>{d.by}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
        <section class="card">
          <h2>Aliases</h2>
          {aliases.length ? (
            <ul class="aliases">
              {aliases.map(aliasJson).map((a) => (
                <li>
                  <strong>{a.name}</strong> → {a.version} <code class="muted">{a.ref}</code>{' '}
                  <span class="muted">
                    moved {a.movedAt} by {a.movedBy}
                    {a.reason ? ` (${a.reason})` : ''}
                  </span>
                </li>
              ))}
            </ul>
          ) : (
            <Empty>No aliases.</Empty>
          )}
          {write && versions.length ? (
            <form class="stack" hx-post={`/models/${model.id}/aliases`} hx-target="#alias-result">
              <label>
                Alias <input name="alias" required placeholder="production" />
              </label>
              <label>
                Version{' '}
                <select name="version">
                  {versions.map((x) => (
                    <option value={x.version}>{x.version}</option>
                  ))}
                </select>
              </label>
              <button type="submit">Move alias</button>
              <div id="alias-result"></div>
            </form>
          ) : null}
        </section>
        {write ? (
          <section class="card deploy-panel">
            <h2>Deploy</h2>
            {deployable.length && hosts.length ? (
              <form class="stack" id="deploy-form" hx-post={`/models/${model.id}/deploy`} hx-target="#deploy-progress">
                <label>
                  Host{' '}
                  <select name="host">
                    {hosts.map(hostJson).map((h) => (
                      <option value={h.name}>
                        {h.name} ({h.url})
                      </option>
                    ))}
                  </select>
                </label>
                <label>
                  Version{' '}
                  <select
                    name="version"
                    hx-get={`/models/${model.id}/preview`}
                    hx-target="#modelfile-preview"
                    hx-swap="outerHTML"
                    hx-trigger="change"
                  >
                    {deployable.map((x) => (
                      <option value={x.version}>{x.version}</option>
                    ))}
                  </select>
                </label>
                <Preview modelfile={deployable[0]!.modelfile} />
                <button type="submit">Deploy</button>
              </form>
            ) : (
              <Empty>Register an Ollama host and add a ready version to deploy.</Empty>
            )}
            <div id="deploy-progress" aria-live="polite"></div>
          </section>
        ) : null}
        <script src="/static/registry-deploy.js" defer></script>
      </Layout>,
    )
  })

  app.get('/models/:id/preview', access('operator'), validate('param', ModelParam), async (c) => {
    const version = field('version', Semver, c.req.query('version'))
    const row = await getVersion(db, c.req.valid('param').id, version)
    return c.html(<Preview modelfile={row.modelfile} />)
  })

  app.post(
    '/models/:id/deploy',
    access('operator'),
    validate('param', ModelParam),
    validate('form', Form),
    async (c) => {
      const f = c.req.valid('form')
      const version = field('version', Semver, f.version)
      const host = field('host', v.pipe(v.string('must name a host'), v.minLength(1, 'must name a host')), f.host)
      const { record } = await registry.deploy(c.req.valid('param').id, version, host, whoOf(c))
      return c.html(
        <div
          class="deploy-run"
          data-deploy-events={`/api/v1/deployments/${record.id}/events`}
          data-deployment={record.id}
        >
          <p class="deploy-state">
            Deploying {version} to {host}…
          </p>
          <ol class="deploy-lines"></ol>
        </div>,
      )
    },
  )

  app.post(
    '/models/:id/rollback',
    access('operator'),
    validate('param', ModelParam),
    validate('form', Form),
    async (c) => {
      const f = c.req.valid('form')
      const host = field('host', v.pipe(v.string('must name a host'), v.minLength(1, 'must name a host')), f.host)
      const version = f.version ? field('version', Semver, f.version) : undefined
      const { done } = await registry.rollback(c.req.valid('param').id, host, version, whoOf(c))
      const d = await done
      const row = await getVersionById(db, d.versionId)
      return c.html(
        <p class={d.status === 'succeeded' ? 'ok' : 'error'}>
          {d.status === 'succeeded'
            ? `Rolled back on ${host}: ${row.version} is live (${d.method})`
            : `Rollback failed: ${d.error}`}
        </p>,
      )
    },
  )

  app.post(
    '/models/:id/aliases',
    access('operator'),
    validate('param', ModelParam),
    validate('form', Form),
    async (c) => {
      const f = c.req.valid('form')
      const alias = field('alias', AliasName, f.alias)
      const version = field('version', Semver, f.version)
      const a = aliasJson(
        await registry.moveAlias(c.req.valid('param').id, alias, version, whoOf(c), 'moved on the dashboard'),
      )
      return c.html(
        <p class="ok">
          {a.name} → {a.version}
        </p>,
      )
    },
  )

  return app
}
