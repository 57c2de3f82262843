import type { ReactNode } from 'react';
import { capitalize } from '../lib/text.ts';

export type Tone = 'neutral' | 'success' | 'warning' | 'danger' | 'info' | 'accent';

export function Badge({ tone = 'neutral', children, title }: { tone?: Tone; children: ReactNode; title?: string }) {
  return (
    <span className={`badge badge-${tone}`} title={title}>
      {children}
    </span>
  );
}

const STATUS_TONES: Record<string, Tone> = {
  ACCEPTED: 'info',
  DELIVERED: 'success',
  FAILED: 'danger',
  PENDING: 'warning',
  SUCCEEDED: 'success',
};

export function StatusBadge({ status }: { status: string }) {
  return (
    <Badge tone={STATUS_TONES[status] ?? 'neutral'}>
      <span data-testid="status">{capitalize(status)}</span>
    </Badge>
  );
}

export function RoleBadge({ role }: { role: string }) {
  return <Badge tone={role === 'OWNER' ? 'accent' : role === 'ADMIN' ? 'info' : 'neutral'}>{capitalize(role)}</Badge>;
}

export function HttpStatus({ status }: { status: number | null | undefined }) {
  if (status == null) return <Badge tone="danger">no response</Badge>;
  return <Badge tone={status >= 200 && status < 300 ? 'success' : status >= 500 || status === 410 ? 'danger' : 'warning'}>{status}</Badge>;
}
