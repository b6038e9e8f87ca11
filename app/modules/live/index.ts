// The live module's public face: the change feed (built once in app/services.ts) and the event stream route.
export { topicAccess, topicsFor } from './access.ts'
export { type ChangeFeed, createChangeFeed, type LiveEvent, type Publish, type Topic, topics } from './feed.ts'
export { HEARTBEAT_MS, liveRoutes, MAX_STREAM_MS } from './routes.ts'
