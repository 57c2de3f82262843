// The frame around every signed-in screen: a left navigation on laptops (a drawer behind a menu
// button on phones) and a header that always shows the environment switcher.
import { type ReactNode, useEffect, useState } from 'react';
import { Link, NavLink, useLocation, useNavigate } from 'react-router';
import { ENV_LABEL, ENV_SLUGS, type EnvSlug, type ProjectScope } from '../lib/project.tsx';
import { useSession } from '../lib/session.tsx';
import { RoleBadge } from './badge.tsx';
import { Logo } from './logo.tsx';

const NAV: { path: string; label: string; testId: string }[] = [
  { path: 'notifications', label: 'Notifications', testId: 'nav-notifications' },
  { path: 'recipients', label: 'Recipients', testId: 'nav-recipients' },
  { path: 'templates', label: 'Templates', testId: 'nav-templates' },
  { path: 'webhooks', label: 'Webhooks', testId: 'nav-webhooks' },
  { path: 'api-keys', label: 'API keys', testId: 'nav-api-keys' },
  { path: 'members', label: 'Members', testId: 'nav-members' },
  { path: 'settings', label: 'Settings', testId: 'nav-settings' },
];

/** The same section in the other environment (detail pages name ids of one environment only). */
function switchPath(pathname: string, scope: ProjectScope, env: EnvSlug): string {
  const rest = pathname.slice(scope.base.length).split('/').filter(Boolean);
  const section = rest[0] === 'webhooks' && rest[1] === 'deliveries' ? 'webhooks/deliveries' : (rest[0] ?? 'notifications');
  return `/projects/${scope.project.id}/${env}/${section}`;
}

export function EnvSwitcher({ scope }: { scope: ProjectScope }) {
  const { pathname } = useLocation();
  return (
    <nav className="env-switcher" aria-label="Environment" data-testid="env-switcher">
      {ENV_SLUGS.map((env) => (
        <Link
          key={env}
          to={switchPath(pathname, scope, env)}
          className={`env-option env-option-${env}${scope.env === env ? ' env-option-active' : ''}`}
          aria-current={scope.env === env ? 'page' : undefined}
          data-testid={`env-${env}`}
        >
          <span className="env-long">{ENV_LABEL[env]}</span>
          <span className="env-short">{env === 'development' ? 'Dev' : 'Prod'}</span>
        </Link>
      ))}
    </nav>
  );
}

function ProjectPicker({ scope }: { scope: ProjectScope }) {
  const navigate = useNavigate();
  return (
    <div className="project-picker">
      <label htmlFor="project-picker" className="sidebar-label">
        Project
      </label>
      <select
        id="project-picker"
        className="input select"
        value={scope.project.id}
        data-testid="project-picker"
        onChange={(event) => {
          if (event.target.value === '__all') navigate('/projects');
          else navigate(`/projects/${event.target.value}/${scope.env}`);
        }}
      >
        {scope.projects.map((p) => (
          <option key={p.id} value={p.id}>
            {p.name}
          </option>
        ))}
        <option value="__all">All projects / new project…</option>
      </select>
      {scope.project.viewerRole ? (
        <div className="project-role">
          Your role: <RoleBadge role={scope.project.viewerRole} />
        </div>
      ) : null}
    </div>
  );
}

function UserBlock() {
  const session = useSession();
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);
  return (
    <div className="user-block">
      <div className="user-name" data-testid="user-email" title={session.user?.email}>
        {session.user?.name ?? session.user?.email}
        {session.user?.name ? <span className="user-email">{session.user.email}</span> : null}
      </div>
      <button
        type="button"
        className="button button-small button-ghost"
        data-testid="log-out"
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          await session.logOut();
          navigate('/login');
        }}
      >
        Log out
      </button>
    </div>
  );
}

export function Shell({ scope, children }: { scope: ProjectScope | null; children: ReactNode }) {
  const [menuOpen, setMenuOpen] = useState(false);
  const { pathname } = useLocation();
  // biome-ignore lint/correctness/useExhaustiveDependencies: close the drawer whenever the page changes
  useEffect(() => setMenuOpen(false), [pathname]);
  const production = scope?.env === 'production';
  return (
    <div className={`shell${production ? ' shell-production' : ''}${menuOpen ? ' shell-menu-open' : ''}`} data-env={scope?.env ?? 'none'}>
      <aside className="sidebar" id="sidebar" aria-label="Main">
        <Link to="/" className="brand">
          <Logo />
          Pigeon
        </Link>
        {scope ? <ProjectPicker scope={scope} /> : null}
        {scope ? (
          <nav className="nav" aria-label="Sections">
            {NAV.map((item) => (
              <NavLink key={item.path} to={`${scope.base}/${item.path}`} className="nav-link" data-testid={item.testId}>
                {item.label}
              </NavLink>
            ))}
          </nav>
        ) : (
          <nav className="nav" aria-label="Sections">
            <NavLink to="/projects" className="nav-link" data-testid="nav-projects">
              Projects
            </NavLink>
          </nav>
        )}
        <UserBlock />
      </aside>
      {menuOpen ? <button type="button" className="scrim" aria-label="Close menu" onClick={() => setMenuOpen(false)} /> : null}
      <div className="main">
        <header className="topbar" data-testid="topbar">
          <button
            type="button"
            className="menu-button"
            aria-label={menuOpen ? 'Close menu' : 'Open menu'}
            aria-expanded={menuOpen}
            aria-controls="sidebar"
            data-testid="menu-button"
            onClick={() => setMenuOpen((open) => !open)}
          >
            <span aria-hidden="true">☰</span>
          </button>
          <div className="topbar-title">{scope ? scope.project.name : 'Pigeon'}</div>
          {production ? (
            <span className="prod-badge" data-testid="production-badge">
              Production
            </span>
          ) : null}
          {scope ? <EnvSwitcher scope={scope} /> : null}
        </header>
        {production ? (
          <div className="prod-band" role="note">
            You are in <strong>production</strong>: changes here affect live notifications.
          </div>
        ) : null}
        <main className="content" id="content">
          {children}
        </main>
      </div>
    </div>
  );
}
