import { type ReactNode, useEffect } from 'react';
import { Logo } from '../../components/logo.tsx';

export function AuthLayout({ title, children, footer }: { title: string; children: ReactNode; footer?: ReactNode }) {
  useEffect(() => {
    document.title = `${title} · Pigeon`;
  }, [title]);
  return (
    <div className="auth-page">
      <div className="auth-card">
        <div className="auth-brand">
          <Logo />
          Pigeon
        </div>
        <h1>{title}</h1>
        {children}
      </div>
      {footer ? <div className="auth-footer">{footer}</div> : null}
    </div>
  );
}

/** Only same-site paths: a `next` parameter must never send the user to another origin. */
export function safeNext(value: string | null): string {
  if (!value?.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return '/';
  return value;
}
