// Loading, empty and error states: every screen shows one of these instead of nothing.
import type { ReactNode } from 'react';

export function Spinner({ small = false }: { small?: boolean }) {
  return <span className={small ? 'spinner spinner-small' : 'spinner'} aria-hidden="true" />;
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="state state-loading" role="status" aria-live="polite" data-testid="loading">
      <Spinner />
      <span>{label}</span>
    </div>
  );
}

export function EmptyState({ title, children, action }: { title: string; children?: ReactNode; action?: ReactNode }) {
  return (
    <div className="state state-empty" data-testid="empty-state">
      <p className="state-title">{title}</p>
      {children ? <div className="state-body">{children}</div> : null}
      {action ? <div className="state-action">{action}</div> : null}
    </div>
  );
}

export function ErrorState({ title = 'Could not load this', message, onRetry }: { title?: string; message: string; onRetry?: () => void }) {
  return (
    <div className="state state-error" role="alert" data-testid="error-state">
      <p className="state-title">{title}</p>
      <p className="state-body">{message}</p>
      {onRetry ? (
        <div className="state-action">
          <button type="button" className="button" onClick={onRetry}>
            Try again
          </button>
        </div>
      ) : null}
    </div>
  );
}

/** An inline message inside a form or panel. */
export function Alert({
  tone = 'error',
  children,
  testId,
}: {
  tone?: 'error' | 'success' | 'info' | 'warning';
  children: ReactNode;
  testId?: string;
}) {
  return (
    <div className={`alert alert-${tone}`} role={tone === 'error' ? 'alert' : 'status'} data-testid={testId}>
      {children}
    </div>
  );
}

/** Loading or failing before any frame exists (session, project list): centred on the page. */
export function FullPage({ children }: { children: ReactNode }) {
  return <div className="full-page">{children}</div>;
}
