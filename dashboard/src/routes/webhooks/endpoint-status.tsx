import { Badge } from '../../components/badge.tsx';
import type { EndpointFieldsFragment } from '../../gql/graphql.ts';
import { formatRelative } from '../../lib/time.ts';

export function EndpointStatus({ endpoint }: { endpoint: EndpointFieldsFragment }) {
  if (!endpoint.enabled) {
    return (
      <Badge tone="danger" title={endpoint.disabledReason ?? undefined}>
        Disabled
      </Badge>
    );
  }
  if (endpoint.failingSince) {
    return (
      <Badge tone="warning" title={`Every attempt has failed since ${formatRelative(endpoint.failingSince)} (${endpoint.failingSince})`}>
        Failing
      </Badge>
    );
  }
  return <Badge tone="success">Enabled</Badge>;
}
