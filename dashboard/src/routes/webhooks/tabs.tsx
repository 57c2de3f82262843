import { NavLink } from 'react-router';
import { useProject } from '../../lib/project.tsx';

export function WebhookTabs() {
  const { base } = useProject();
  return (
    <nav className="tabs" aria-label="Webhooks">
      <NavLink end to={`${base}/webhooks`} className="tab" data-testid="tab-endpoints">
        Endpoints
      </NavLink>
      <NavLink to={`${base}/webhooks/deliveries`} className="tab" data-testid="tab-deliveries">
        Deliveries
      </NavLink>
    </nav>
  );
}
