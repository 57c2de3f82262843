// No blank screens: the router's errorElement (per route, so the navigation stays) and a plain
// boundary above the router for anything that breaks before it.
import { Component, type ErrorInfo, type ReactNode } from 'react';
import { isRouteErrorResponse, Link, useRouteError } from 'react-router';

function messageOf(error: unknown): string {
  if (isRouteErrorResponse(error)) return error.status === 404 ? 'This page does not exist.' : `${error.status} ${error.statusText}`;
  if (error instanceof Error) return error.message;
  return 'An unexpected error occurred.';
}

export function RouteError() {
  const error = useRouteError();
  const notFound = isRouteErrorResponse(error) && error.status === 404;
  return (
    <div className="state state-error page-error" role="alert" data-testid="route-error">
      <p className="state-title">{notFound ? 'Page not found' : 'This page crashed'}</p>
      <p className="state-body">{messageOf(error)}</p>
      <div className="state-action">
        <button type="button" className="button" onClick={() => window.location.reload()}>
          Reload
        </button>
        <Link className="button button-ghost" to="/">
          Go to the dashboard
        </Link>
      </div>
    </div>
  );
}

export class RootErrorBoundary extends Component<{ children: ReactNode }, { error: unknown }> {
  override state: { error: unknown } = { error: null };

  static getDerivedStateFromError(error: unknown) {
    return { error };
  }

  override componentDidCatch(error: unknown, info: ErrorInfo) {
    console.error('Dashboard crashed', error, info.componentStack);
  }

  override render() {
    if (this.state.error === null) return this.props.children;
    return (
      <div className="state state-error page-error" role="alert" data-testid="root-error">
        <p className="state-title">The dashboard crashed</p>
        <p className="state-body">{messageOf(this.state.error)}</p>
        <div className="state-action">
          <button type="button" className="button" onClick={() => window.location.reload()}>
            Reload
          </button>
        </div>
      </div>
    );
  }
}
