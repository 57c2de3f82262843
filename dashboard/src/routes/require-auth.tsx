import { Navigate, Outlet, useLocation } from 'react-router';
import { ErrorState, FullPage, Loading } from '../components/states.tsx';
import { useSession } from '../lib/session.tsx';

/** Signed-in screens: waits for `me`, sends strangers to the login page and back afterwards. */
export function RequireAuth() {
  const session = useSession();
  const location = useLocation();
  if (session.loading) {
    return (
      <FullPage>
        <Loading label="Loading your session…" />
      </FullPage>
    );
  }
  if (session.error) {
    return (
      <FullPage>
        <ErrorState title="Pigeon is unreachable" message={session.error} onRetry={session.retry} />
      </FullPage>
    );
  }
  if (!session.user) {
    const next = `${location.pathname}${location.search}`;
    return <Navigate to={next === '/' ? '/login' : `/login?next=${encodeURIComponent(next)}`} replace />;
  }
  return <Outlet />;
}
