// URL, description and event types: the fields of creating and editing an endpoint.
import { type FormEvent, useState } from 'react';
import { useQuery } from 'urql';
import { TextField } from '../../components/field.tsx';
import { Alert, Loading, Spinner } from '../../components/states.tsx';
import { describeError } from '../../lib/errors.ts';
import { useProject } from '../../lib/project.tsx';
import { WebhookEventTypesDocument } from './documents.ts';

export interface EndpointValues {
  url: string;
  description: string;
  eventTypes: string[];
}

interface Props {
  initial: EndpointValues;
  submitLabel: string;
  busy: boolean;
  errors: Record<string, string>;
  formError: string | null;
  onSubmit(values: EndpointValues): void;
  onCancel(): void;
}

export function EndpointForm({ initial, submitLabel, busy, errors, formError, onSubmit, onCancel }: Props) {
  const { environmentId } = useProject();
  const [types] = useQuery({ query: WebhookEventTypesDocument, variables: { environmentId } });
  const [values, setValues] = useState(initial);
  function toggle(name: string, on: boolean) {
    setValues((v) => ({ ...v, eventTypes: on ? [...v.eventTypes, name] : v.eventTypes.filter((t) => t !== name) }));
  }
  function submit(event: FormEvent) {
    event.preventDefault();
    onSubmit(values);
  }
  const all = types.data?.webhookEventTypes.map((t) => t.name) ?? [];
  return (
    <form className="form" onSubmit={submit} noValidate data-testid="endpoint-form">
      <TextField
        label="URL"
        type="url"
        value={values.url}
        onChange={(e) => setValues((v) => ({ ...v, url: e.target.value }))}
        error={errors.url}
        placeholder="https://example.com/webhooks/pigeon"
        hint="Checked now and before every attempt: it must resolve to a public address."
        data-testid="endpoint-url"
        autoFocus
      />
      <TextField
        label="Description (optional)"
        value={values.description}
        onChange={(e) => setValues((v) => ({ ...v, description: e.target.value }))}
        error={errors.description}
        maxLength={500}
        data-testid="endpoint-description"
      />
      {types.error && !types.data ? (
        <Alert>Could not load the event types: {describeError(types.error)}</Alert>
      ) : !types.data ? (
        <Loading label="Loading event types…" />
      ) : (
        <fieldset
          className="checkbox-list"
          aria-describedby={errors.eventTypes ? 'event-types-error' : undefined}
          data-testid="endpoint-event-types"
        >
          <legend>Event types</legend>
          <label className="checkbox" style={{ gridColumn: '1 / -1' }}>
            <input
              type="checkbox"
              checked={all.length > 0 && all.every((n) => values.eventTypes.includes(n))}
              onChange={(e) => setValues((v) => ({ ...v, eventTypes: e.target.checked ? all : [] }))}
              data-testid="event-type-all"
            />
            <span>
              <strong>All events</strong>
            </span>
          </label>
          {types.data.webhookEventTypes.map((t) => (
            <label key={t.name} className="checkbox">
              <input
                type="checkbox"
                checked={values.eventTypes.includes(t.name)}
                onChange={(e) => toggle(t.name, e.target.checked)}
                data-testid={`event-type-${t.name}`}
              />
              <span>
                <code>{t.name}</code>
                <small>{t.description}</small>
              </span>
            </label>
          ))}
        </fieldset>
      )}
      {errors.eventTypes ? (
        <p className="field-error" id="event-types-error" role="alert">
          {errors.eventTypes}
        </p>
      ) : null}
      {formError ? <Alert>{formError}</Alert> : null}
      <div className="dialog-actions">
        <button type="button" className="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="button button-primary" disabled={busy} data-testid="endpoint-submit">
          {busy ? <Spinner small /> : null}
          {submitLabel}
        </button>
      </div>
    </form>
  );
}
