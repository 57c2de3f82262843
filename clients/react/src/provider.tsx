// <PigeonProvider>: one inbox (token cache, store, live stream) for the components below it.
import { createContext, type ReactNode, useContext, useEffect, useRef, useState } from 'react';
import { Api } from './api.ts';
import { PigeonInbox } from './inbox.ts';
import { type GetToken, TokenManager } from './token.ts';

const PigeonContext = createContext<PigeonInbox | null>(null);

export interface PigeonProviderProps {
  /** Where the Pigeon API listens, e.g. "https://pigeon.example.com" (without /graphql). */
  baseUrl: string;
  /**
   * Returns a client token for the signed-in user, minted by your backend with its API key
   * (`pigeon.createClientToken(userId)` in the Node SDK). Called on mount, before the token
   * expires, and after the API refuses a token. May return the token alone or `{ token, expiresAt }`.
   */
  getToken: GetToken;
  /**
   * Share one live connection among this browser's tabs (a leader tab holds it; default true).
   * Browsers allow six HTTP/1.1 connections per origin, so leave it on unless the API is served
   * over HTTP/2.
   */
  shareConnection?: boolean;
  children?: ReactNode;
}

/**
 * Provides the signed-in user's inbox to `useNotifications` and `<NotificationBell>`.
 * Mount it once, high in the tree, after you know who the user is; change `key` to switch users.
 *
 * @example
 * ```tsx
 * <PigeonProvider baseUrl="https://pigeon.example.com" getToken={() => fetch('/api/pigeon-token').then((r) => r.json())}>
 *   <NotificationBell />
 * </PigeonProvider>
 * ```
 */
export function PigeonProvider({ baseUrl, getToken, shareConnection = true, children }: PigeonProviderProps) {
  const getTokenRef = useRef(getToken);
  getTokenRef.current = getToken;
  const url = baseUrl.replace(/\/+$/, '').replace(/\/graphql$/, '');
  const [inbox] = useState(() => {
    const tokens = new TokenManager(() => getTokenRef.current);
    return { url, tokens, inbox: new PigeonInbox({ baseUrl: url, api: new Api(url, tokens), tokens, shareStream: shareConnection }) };
  });
  if (inbox.url !== url) {
    throw new Error('PigeonProvider: baseUrl changed after mount; give the provider a new `key` to connect elsewhere.');
  }
  useEffect(() => {
    inbox.tokens.start();
    inbox.inbox.start();
    return () => {
      inbox.inbox.stop();
      inbox.tokens.stop();
    };
  }, [inbox]);
  return <PigeonContext.Provider value={inbox.inbox}>{children}</PigeonContext.Provider>;
}

/**
 * The provider's inbox object, for headless integrations that need more than the hook
 * (e.g. `refresh()` after your own navigation). Throws outside a `<PigeonProvider>`.
 *
 * @example
 * ```tsx
 * const inbox = usePigeonInbox();
 * useEffect(() => { void inbox.refresh(); }, [route]);
 * ```
 */
export function usePigeonInbox(): PigeonInbox {
  const inbox = useContext(PigeonContext);
  if (!inbox) throw new Error('usePigeonInbox/useNotifications must be used inside <PigeonProvider>.');
  return inbox;
}
