// The boundaries `npm test` checks (npm run check:boundaries). See docs/architecture.md.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import cycles, type-only imports included.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'lib-and-db-know-no-feature',
      comment: 'app/lib and db/ are below every feature: they import no module, no middleware, no root, no job.',
      severity: 'error',
      from: { path: '^(app/lib|db)/' },
      to: { path: '^(app/modules|app/middleware|jobs)/|^app/(app|server|services|root|boot|cli)\\.tsx?$' },
    },
    {
      name: 'modules-never-import-the-root',
      comment: 'A module is given what it needs; it never imports the server, the app, the composition root or jobs.',
      severity: 'error',
      from: { path: '^app/modules/' },
      to: { path: '^jobs/|^app/(app|server|services|root|boot|cli)\\.tsx?$' },
    },
    {
      name: 'modules-meet-through-index',
      comment: "A module reaches another only through that module's index.ts.",
      severity: 'error',
      from: { path: '^app/modules/([^/]+)/' },
      to: { path: '^app/modules/', pathNot: ['^app/modules/$1/', '^app/modules/[^/]+/index\\.ts$'] },
    },
    {
      name: 'no-own-index',
      comment: "A module's own files import each other directly, never their index.ts (it would make a cycle).",
      severity: 'error',
      from: { path: '^app/modules/([^/]+)/', pathNot: '^app/modules/[^/]+/index\\.ts$' },
      to: { path: '^app/modules/$1/index\\.ts$' },
    },
    {
      name: 'root-and-jobs-use-index',
      comment:
        'The composition root, the app and jobs use modules through their index.ts; the one narrow door ' +
        'besides is the n8n validator (pure rules), so `workflows validate` on files loads no app.',
      severity: 'error',
      from: { path: '^(jobs/|app/[^/]+\\.tsx?$)' },
      to: {
        path: '^app/modules/[^/]+/.+',
        pathNot: ['^app/modules/[^/]+/index\\.ts$', '^app/modules/n8n/validator/index\\.ts$'],
      },
    },
    {
      name: 'middleware-uses-the-lowest-files',
      comment:
        'The request layer may use only auth keys/sessions and the audit writer (their index.ts exports pages that use the middleware).',
      severity: 'error',
      from: { path: '^app/middleware/' },
      to: {
        path: '^app/modules/',
        pathNot: '^app/modules/(auth/keys|auth/sessions|audit/service)\\.ts$',
      },
    },
    {
      name: 'alerts-intake-is-private',
      comment:
        "The alert intake's fast path (group commit, alert cache, batch statements) is used only by the alerts service.",
      severity: 'error',
      from: { path: '^', pathNot: '^app/modules/alerts/(intake/|service\\.ts$)' },
      to: { path: '^app/modules/alerts/intake/' },
    },
    {
      name: 'context-knows-no-feature',
      comment: "app/context.ts (the request's types) depends on no feature's types.",
      severity: 'error',
      from: { path: '^app/context\\.ts$' },
      to: { path: '^(app/modules|jobs)/' },
    },
    {
      name: 'cli-validate-loads-no-app',
      comment:
        '`workflows validate` on files (CI gates) loads the validator alone: the CLI entry and its validate command ' +
        'import the rest of the app (root, boot, database, other modules) only dynamically, when a command needs it.',
      severity: 'error',
      from: { path: '^app/cli(-workflows)?\\.ts$' },
      to: {
        path: '^(app/(root|services|app|boot|server)\\.tsx?$|db/|jobs/|app/modules/)',
        pathNot: '^app/modules/n8n/validator/',
        dependencyTypesNot: ['dynamic-import'],
      },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
}
