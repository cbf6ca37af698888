// Types of pusher-batch-auth for `import` (client/src/pusher-batch-auth.mjs): the default
// export and the named `PusherBatchAuth`, the same function; the types are index.d.ts's.
import PusherBatchAuth from './index.js';

export default PusherBatchAuth;
export { PusherBatchAuth };
export type ChannelAuthorizationData = PusherBatchAuth.ChannelAuthorizationData;
export type ChannelAuthorizationRequestParams = PusherBatchAuth.ChannelAuthorizationRequestParams;
export type ChannelAuthorizationCallback = PusherBatchAuth.ChannelAuthorizationCallback;
export type PusherBatchAuthError = PusherBatchAuth.PusherBatchAuthError;
export type PusherBatchAuthOptions = PusherBatchAuth.PusherBatchAuthOptions;
export type PusherBatchAuthorizer = PusherBatchAuth.PusherBatchAuthorizer;
export type UserAuthenticationData = PusherBatchAuth.UserAuthenticationData;
export type UserAuthenticationRequestParams = PusherBatchAuth.UserAuthenticationRequestParams;
export type UserAuthenticationCallback = PusherBatchAuth.UserAuthenticationCallback;
