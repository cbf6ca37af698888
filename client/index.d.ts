// Types of pusher-batch-auth for `require` and the script-tag build (client/pusher-batch-auth.js,
// `module.exports` or the global `PusherBatchAuth`); index.d.mts gives the same to `import`.

declare function PusherBatchAuth(options: PusherBatchAuth.PusherBatchAuthOptions): PusherBatchAuth.PusherBatchAuthorizer;

declare namespace PusherBatchAuth {
  /** What the endpoint signed for one channel: pusher-js 8's ChannelAuthorizationData. */
  interface ChannelAuthorizationData {
    auth: string;
    channel_data?: string;
    shared_secret?: string;
  }

  /** pusher-js 8's `channelAuthorization.customHandler` arguments. */
  interface ChannelAuthorizationRequestParams {
    socketId: string;
    channelName: string;
  }

  type ChannelAuthorizationCallback = (error: Error | null, authData: ChannelAuthorizationData | null) => void;

  /** What the endpoint signed for `pusher.signin()`: pusher-js 8's UserAuthenticationData. */
  interface UserAuthenticationData {
    auth: string;
    user_data: string;
  }

  /** pusher-js 8's `userAuthentication.customHandler` arguments. */
  interface UserAuthenticationRequestParams {
    socketId: string;
  }

  type UserAuthenticationCallback = (error: Error | null, authData: UserAuthenticationData | null) => void;

  /**
   * A refused channel or signin: `code` is the endpoint's public code (`forbidden`, `token_expired`,
   * `unauthenticated`, …) or the helper's own (`not_answered`, `network_error`, `timeout`,
   * `http_error`, `invalid_answer`, `request_failed`); `status` the HTTP status it stands for (0:
   * none). Its `message` is the code and it is an instance of pusher-js 8's HTTPAuthError, so
   * pusher-js reports `{type: 'AuthError', error: code, status}`.
   */
  interface PusherBatchAuthError extends Error {
    code: string;
    status: number;
  }

  interface PusherBatchAuthOptions {
    /** `https://<api>/<stage>/pusher/auth`. */
    endpoint: string;
    /** Default: `endpoint` with `/pusher/user-auth` for `/pusher/auth`. */
    userEndpoint?: string;
    /** Default `'jsonp'` (no CORS); `'ajax'` POSTs a form and may send headers. */
    transport?: 'jsonp' | 'ajax';
    /** Extra parameters of every request (e.g. `{ token }`), or a function read at each request. */
    params?: Record<string, string>;
    paramsProvider?: () => Record<string, string>;
    /** AJAX only: request headers (e.g. `Authorization`), or a function read at each request. */
    headers?: Record<string, string>;
    headersProvider?: () => Record<string, string>;
    /** Subscriptions within this many ms of the first go in one request (default 20). */
    delayMs?: number;
    /** Most channels per request (default 25, the endpoint's limit); more are split. */
    maxBatch?: number;
    /** JSONP: a request without an answer fails its channels after this many ms (default 10000). */
    timeoutMs?: number;
    /** Called once per request sent, with its channels. */
    onRequest?: (channels: string[]) => void;
    /**
     * JSONP, when `window.Pusher` is not set (pusher-js 8's web build sets it): the object made
     * `window.Pusher`, whose `auth_callbacks` the endpoint's answers call (default a stub).
     */
    Pusher?: { auth_callbacks?: Record<string, (data: unknown) => void> };
  }

  interface PusherBatchAuthorizer {
    /** pusher-js 8's `channelAuthorization.customHandler`. */
    handler(params: ChannelAuthorizationRequestParams, callback: ChannelAuthorizationCallback): void;
    /** pusher-js 8's `userAuthentication.customHandler`; a refusal is a PusherBatchAuthError. */
    userHandler(params: UserAuthenticationRequestParams, callback: UserAuthenticationCallback): void;
    /** Sends what is waiting now. */
    flush(): void;
  }
}

export = PusherBatchAuth;
