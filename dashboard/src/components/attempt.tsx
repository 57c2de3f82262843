// One webhook attempt as evidence: the request we sent and what came back.
import type { AttemptFieldsFragment } from '../gql/graphql.ts';
import { prettyJson } from '../lib/text.ts';
import { formatDuration } from '../lib/time.ts';
import { Badge, HttpStatus } from './badge.tsx';
import { CodeBlock } from './page.tsx';
import { Time } from './time.tsx';

function Headers({ headers }: { headers: unknown }) {
  if (!headers || typeof headers !== 'object') return <p className="muted small">No headers.</p>;
  const entries = Object.entries(headers as Record<string, unknown>);
  if (entries.length === 0) return <p className="muted small">No headers.</p>;
  return (
    <table className="headers-table">
      <tbody>
        {entries.map(([name, value]) => (
          <tr key={name}>
            <th scope="row" className="header-name">
              {name}
            </th>
            <td className="header-value">{Array.isArray(value) ? value.join(', ') : String(value)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function attemptOutcome(a: AttemptFieldsFragment): 'success' | 'danger' | 'warning' {
  if (a.responseStatus != null && a.responseStatus >= 200 && a.responseStatus < 300) return 'success';
  if (a.responseStatus == null || a.responseStatus >= 500 || a.responseStatus === 410) return 'danger';
  return 'warning';
}

export function AttemptSummary({ attempt }: { attempt: AttemptFieldsFragment }) {
  return (
    <>
      <HttpStatus status={attempt.responseStatus} />
      {attempt.errorClass ? <Badge tone="danger">{attempt.errorClass}</Badge> : null}
      <span className="muted small">{formatDuration(attempt.durationMs)}</span>
      <Badge tone={attempt.trigger === 'MANUAL' ? 'accent' : 'neutral'}>{attempt.trigger === 'MANUAL' ? 'manual' : 'scheduled'}</Badge>
    </>
  );
}

export function AttemptExchange({ attempt, label, open = false }: { attempt: AttemptFieldsFragment; label: string; open?: boolean }) {
  return (
    <details className="exchange" open={open} data-testid="webhook-attempt">
      <summary>
        {label} <AttemptSummary attempt={attempt} />
        <span className="muted small">
          <Time value={attempt.startedAt} />
        </span>
      </summary>
      <div className="exchange-body">
        <div>
          <h4>Request</h4>
          <p className="small mono" style={{ marginBottom: 6, wordBreak: 'break-all' }}>
            POST {attempt.url}
          </p>
          <Headers headers={attempt.requestHeaders} />
          <CodeBlock label="Request body" testId="attempt-request-body">
            {prettyJson(attempt.requestBody)}
          </CodeBlock>
        </div>
        <div>
          <h4>Response</h4>
          {attempt.responseStatus == null ? (
            <p className="alert alert-error small">
              No response{attempt.errorClass ? ` (${attempt.errorClass})` : ''}
              {attempt.errorMessage ? `: ${attempt.errorMessage}` : '.'}
            </p>
          ) : (
            <>
              <p className="small" style={{ marginBottom: 6 }}>
                Status <HttpStatus status={attempt.responseStatus} /> after {formatDuration(attempt.durationMs)}
              </p>
              <Headers headers={attempt.responseHeaders} />
              <CodeBlock label="Response body" testId="attempt-response-body">
                {attempt.responseBody ? prettyJson(attempt.responseBody) : '(empty body)'}
              </CodeBlock>
              {attempt.responseBodyTruncated ? <p className="field-hint">Truncated: only the start of the body is kept.</p> : null}
            </>
          )}
        </div>
      </div>
    </details>
  );
}
