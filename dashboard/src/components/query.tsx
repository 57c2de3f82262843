// The three states of a query as one component: loading, error (with retry), or the data —
// plus a quiet notice when a background refresh fails while older data is still shown.
import type { ReactNode } from 'react';
import type { AnyVariables, UseQueryState } from 'urql';
import { describeError } from '../lib/errors.ts';
import { Alert, ErrorState, Loading } from './states.tsx';

interface QueryViewProps<D, V extends AnyVariables> {
  result: UseQueryState<D, V>;
  retry(): void;
  loadingLabel?: string;
  children(data: D): ReactNode;
}

export function QueryView<D, V extends AnyVariables>({ result, retry, loadingLabel, children }: QueryViewProps<D, V>) {
  if (result.error && !result.data) return <ErrorState message={describeError(result.error)} onRetry={retry} />;
  if (!result.data) return <Loading label={loadingLabel} />;
  return (
    <>
      {result.error ? <Alert tone="warning">Could not refresh: {describeError(result.error)}</Alert> : null}
      {children(result.data)}
    </>
  );
}

/** `refetch` for a retry button: always to the network. */
export function retryWith(refetch: (opts: { requestPolicy: 'network-only' }) => void): () => void {
  return () => refetch({ requestPolicy: 'network-only' });
}
