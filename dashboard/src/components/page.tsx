import { type ReactNode, useEffect } from 'react';
import { Link } from 'react-router';

export function PageHeader({
  title,
  documentTitle,
  description,
  actions,
  back,
}: {
  title: ReactNode;
  /** The browser tab's title, when `title` is not plain text. */
  documentTitle?: string;
  description?: ReactNode;
  actions?: ReactNode;
  back?: { to: string; label: string };
}) {
  const text = documentTitle ?? (typeof title === 'string' ? title : null);
  useEffect(() => {
    if (text) document.title = `${text} · Pigeon`;
  }, [text]);
  return (
    <header className="page-header">
      <div className="page-heading">
        {back ? (
          <Link className="back-link" to={back.to}>
            ← {back.label}
          </Link>
        ) : null}
        <h1>{title}</h1>
        {description ? <p className="page-description">{description}</p> : null}
      </div>
      {actions ? <div className="page-actions">{actions}</div> : null}
    </header>
  );
}

export function Section({
  title,
  actions,
  children,
  testId,
}: {
  title: ReactNode;
  actions?: ReactNode;
  children: ReactNode;
  testId?: string;
}) {
  return (
    <section className="section" data-testid={testId}>
      <header className="section-header">
        <h2>{title}</h2>
        {actions ? <div className="section-actions">{actions}</div> : null}
      </header>
      {children}
    </section>
  );
}

/** Label/value pairs (a definition list) for detail pages. */
export function Properties({ items }: { items: [ReactNode, ReactNode][] }) {
  return (
    <dl className="properties">
      {items.map(([label, value], i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: a fixed list rendered once per screen
        <div className="property" key={i}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

export function CodeBlock({ children, label, testId }: { children: string; label?: string; testId?: string }) {
  return (
    <figure className="code-figure" aria-label={label}>
      <pre className="code" data-testid={testId}>
        {children}
      </pre>
    </figure>
  );
}
