// The workflow validator's pure rules over workflow JSON: a second, narrow door of the n8n module for the
// command line, which validates files without loading the app (the n8n module's index pulls in health,
// healing and the database layer). Everything here is re-exported by the module's index.ts.
export { failed, validateWorkflows } from './validate.ts'
export { candidatesOf, latestVersions } from './sources.ts'
export { formatReport } from './report.ts'
export { RULES, type Finding, type InstanceFacts, type Report, type RuleId } from './types.ts'
