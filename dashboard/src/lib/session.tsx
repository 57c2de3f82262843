// Who is logged in. The provider owns the urql client: logging in or out replaces it, so no cached
// data of one user survives into another's session.
import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useRef, useState } from 'react';
import { Provider, useQuery } from 'urql';
import type { MeQuery } from '../gql/graphql.ts';
import { graphql } from '../gql/index.ts';
import { createClient } from './client.ts';

export const MeDocument = graphql(`
  query Me {
    me { id email name createdAt }
  }
`);

const LogOutDocument = graphql(`
  mutation LogOut {
    logOut
  }
`);

export type SessionUser = NonNullable<MeQuery['me']>;

interface SessionState {
  user: SessionUser | null;
  /** The first `me` is still loading. */
  loading: boolean;
  /** `me` itself failed (API unreachable): the app shows an error instead of a login page. */
  error: string | null;
  /** Drop every cached result and ask the API who we are again (after log in). */
  reset(): void;
  /** End the session on the API, then forget everything cached. */
  logOut(): Promise<void>;
  retry(): void;
  /** Set when the API ended the session under us (shown on the login page). */
  expired: boolean;
}

const SessionContext = createContext<SessionState | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const hadUser = useRef(false);
  const [expired, setExpired] = useState(false);
  const make = useCallback(
    () =>
      createClient({
        onUnauthenticated: () => {
          if (!hadUser.current) return;
          hadUser.current = false;
          setExpired(true);
          setClient(make());
        },
      }),
    [],
  );
  const [client, setClient] = useState(make);
  const trackUser = useCallback((has: boolean) => {
    hadUser.current = has;
  }, []);
  const reset = useCallback(() => {
    setExpired(false);
    setClient(make());
  }, [make]);
  // After logging out the user is "nobody" at once (so the caller can navigate away); the client is
  // replaced only after that render, when the signed-in screens and their queries are gone, so none
  // of them is re-run without a session.
  const [signedOut, setSignedOut] = useState(false);
  const logOut = useCallback(async () => {
    // Requests still in flight will come back UNAUTHENTICATED: that is not an expired session.
    hadUser.current = false;
    await client.mutation(LogOutDocument, {}).toPromise();
    setExpired(false);
    setSignedOut(true);
  }, [client]);
  useEffect(() => {
    if (!signedOut) return;
    setClient(make());
    setSignedOut(false);
  }, [signedOut, make]);
  return (
    <Provider value={client}>
      <MeLoader reset={reset} logOut={logOut} expired={expired} signedOut={signedOut} onUser={trackUser}>
        {children}
      </MeLoader>
    </Provider>
  );
}

function MeLoader({
  children,
  reset,
  logOut,
  expired,
  signedOut,
  onUser,
}: {
  children: ReactNode;
  reset(): void;
  logOut(): Promise<void>;
  expired: boolean;
  signedOut: boolean;
  onUser(has: boolean): void;
}) {
  const [result, refetch] = useQuery({ query: MeDocument, requestPolicy: 'network-only' });
  const user = signedOut ? null : (result.data?.me ?? null);
  useEffect(() => onUser(user !== null), [user, onUser]);
  const value = useMemo<SessionState>(
    () => ({
      user,
      loading: result.fetching && !result.data,
      error: result.error && !result.data ? 'Cannot reach the Pigeon API.' : null,
      reset,
      logOut,
      retry: () => refetch({ requestPolicy: 'network-only' }),
      expired,
    }),
    [user, result.fetching, result.data, result.error, reset, logOut, refetch, expired],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionState {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession must be used inside <SessionProvider>.');
  return session;
}
