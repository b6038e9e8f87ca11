// The notify module's public face: other modules, the composition root and jobs import only this.
export {
  channelJson,
  createChannel,
  deleteChannel,
  getChannel,
  listChannels,
  openChannel,
  updateChannel,
} from './channels.ts'
export {
  type DeadNotifications,
  type Delivered,
  NOTIFICATION_FAILED,
  raiseNotificationFailed,
  resolveNotificationFailed,
} from './dead.ts'
export { retryNotification } from './delivery.ts'
export { createNotifier, type Notifier } from './notifier.ts'
export {
  createPolicy,
  deletePolicy,
  getPolicy,
  listPolicies,
  routesFrom,
  type Routing,
  updatePolicy,
} from './policies.ts'
export { notifyPages } from './pages.tsx'
export { rebindNotifySecrets } from './rebind.ts'
export { notifyRoutes } from './routes.ts'
export {
  ChannelBody,
  ChannelPatch,
  IdParam,
  NumericIdParam,
  PolicyBody,
  secretFields,
  SubscriptionBody,
} from './schema.ts'
export { alertSnapshot, SendError, sendToChannel, signature } from './senders.ts'
export {
  createSubscription,
  deleteSubscription,
  getSubscription,
  listSubscriptions,
  subscriptionJson,
} from './subscriptions.ts'
