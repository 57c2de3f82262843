import { Link } from 'react-router';

export function NotFoundPage() {
  return (
    <div className="state state-empty page-error" data-testid="not-found">
      <p className="state-title">Page not found</p>
      <p className="state-body">Nothing lives at this address.</p>
      <div className="state-action">
        <Link className="button" to="/">
          Go to the dashboard
        </Link>
      </div>
    </div>
  );
}
